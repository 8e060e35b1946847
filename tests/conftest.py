import os
import sys

# The tests import the package from the checkout and the helpers from tests/lib.
HERE = os.path.dirname(os.path.abspath(__file__))
for path in (os.path.join(os.path.dirname(HERE), "app"), HERE):
    if path not in sys.path:
        sys.path.insert(0, path)
