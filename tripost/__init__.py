"""TriPosT (Yu et al., NAACL 2024), rebuilt: the logic behind every workflow stage. A "method §n"
in this package cites section n of docs/method.md, the method's specification."""
