"""The package imports in Debian's interpreter and knows the shoal binary it was built with."""
import os

import _shoal
import shoal


def test_version_matches_native_module():
    assert shoal.__version__ == _shoal.__version__


def test_shoal_binary_exists():
    assert os.access(_shoal.shoal_binary, os.X_OK)


def test_unknown_name_is_attribute_error():
    try:
        shoal.NoSuchThing
    except AttributeError as e:
        assert 'NoSuchThing' in str(e)
    else:
        raise AssertionError('expected AttributeError')
