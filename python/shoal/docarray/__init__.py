"""docarray's document API over Shoal's native documents.

Change ``from docarray import ...`` to ``from shoal.docarray import ...``: BaseDoc, DocList and
AnyDoc here; TextDoc, ImageDoc, AudioDoc and VideoDoc in ``shoal.docarray.documents``; field
types in ``shoal.docarray.typing``; InMemoryExactNNIndex in ``shoal.docarray.index``. Documents
are encoded on the wire exactly as docarray encodes them.
"""

from shoal.docarray.base_doc import AnyDoc, BaseDoc, ValidationError
from shoal.docarray.doc_list import DocList

__all__ = ['AnyDoc', 'BaseDoc', 'DocList', 'ValidationError']
