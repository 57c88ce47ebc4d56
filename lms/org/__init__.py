"""The ministry's organisation: units in a tree, the people in them and their roles."""
