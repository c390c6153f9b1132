# Mutator: adds an audit hook (which python cannot remove).
import sys


def hook(event, args):
    if event == "corpus.probe":
        print("audit hook saw", event, args)


sys.addaudithook(hook)
sys.audit("corpus.probe", "mutator")
