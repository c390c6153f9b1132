# Mutator: imports modules a runner would not preload.
import graphlib
import wave
import xml.dom.minidom

print(graphlib.__name__, wave.__name__, xml.dom.minidom.__name__)
