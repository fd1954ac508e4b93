"""Small command-line tools built on the library (top layer; imports anything below)."""
