# Checker: modules imported by an earlier program are not in sys.modules.
import sys

print([m in sys.modules for m in ("graphlib", "wave", "xml.dom.minidom", "xml.dom")])
