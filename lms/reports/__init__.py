"""Unit-head reports: figures per unit subtree, drill-downs, snapshots, exports, the public page."""
