"""Python annotations, read from source, to Prefect's ``parameter_openapi_schema``.

Prefect imports the flow and runs ``prefect.utilities.callables.parameter_schema``: every
parameter becomes a field of a pydantic model, and the model's JSON schema is what the server
stores. This package rebuilds that output from the syntax tree, without importing anything:

* :mod:`.parameters` reads the flow function's signature, defaults and docstring
  (:mod:`.docstrings`);
* :mod:`.analyzer` evaluates constant expressions and classifies repository classes, giving the
  values of :mod:`.values`;
* :mod:`.annotations` translates annotations (and :mod:`.fields`, the fields of repository
  classes) into the type model of :mod:`.model`;
* :mod:`.jsonschema` generates JSON from that model with pydantic's rules.

Where source cannot say what Prefect would see (a third-party type, a value computed at
import, an enum whose class body makes its members), the parameter gets no type or a null
default, which is what Prefect registers when evaluating them fails, and a
:class:`~flowdeploy.errors.ConfigWarning` says so.
"""

from flowdeploy.schema.analyzer import Analyzer

# The tests enumerate every third-party type name flowdeploy knows.
from flowdeploy.schema.annotations import _ANY_TYPES as _ANY_TYPES
from flowdeploy.schema.annotations import _COUNTERS as _COUNTERS
from flowdeploy.schema.annotations import _DICTS as _DICTS
from flowdeploy.schema.annotations import _LISTS as _LISTS
from flowdeploy.schema.annotations import _SCALARS as _SCALARS
from flowdeploy.schema.annotations import _SETS as _SETS
from flowdeploy.schema.annotations import _TUPLES as _TUPLES
from flowdeploy.schema.docstrings import parameter_docstrings
from flowdeploy.schema.parameters import parameter_schema
from flowdeploy.schema.values import NotStatic, ObjectRef, Unencodable, encode_default

__all__ = [
    "Analyzer",
    "NotStatic",
    "ObjectRef",
    "Unencodable",
    "encode_default",
    "parameter_docstrings",
    "parameter_schema",
]
