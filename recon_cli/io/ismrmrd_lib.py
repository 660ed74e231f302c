"""The ``ismrmrd`` package, imported without its side effect on warnings.

``ismrmrd.image`` calls ``warnings.simplefilter('default')`` when imported, which would show every
library's deprecation warnings to recon's users; importing it here, inside ``catch_warnings``, keeps the
process's warning filters as they were.
"""

import warnings

with warnings.catch_warnings():
    import ismrmrd
    import ismrmrd.xsd as xsd

__all__ = ["ismrmrd", "xsd"]
