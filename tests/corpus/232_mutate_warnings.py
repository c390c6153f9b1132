# Mutator: turns every warning into an error and adds a filter of its own.
import warnings

warnings.simplefilter("error")
warnings.filterwarnings("ignore", message="careful")
print(len(warnings.filters))
