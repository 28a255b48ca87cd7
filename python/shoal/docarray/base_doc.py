"""BaseDoc: docarray's document class over Shoal's native documents.

A BaseDoc wraps one ``_shoal.Doc`` (``self._doc``): every field read and write goes to the wire
message, so a document received by an Executor is edited in place and nothing is copied on the
way in or out. Fields are the class's annotations (through the MRO, base fields first) with
their defaults, as docarray declares them.
"""

import copy
import os
import typing

import _shoal
import numpy as np

from shoal.docarray import typing as da_typing

__all__ = ['BaseDoc', 'AnyDoc', 'ValidationError']


class ValidationError(ValueError):
    """A field value or keyword that does not fit the document's schema."""


class _Required:
    """The default of a field without one; pickles as a reference to the one instance (a class
    pickled by value, as cloudpickle sends an Executor's, keeps its required fields)."""

    def __reduce__(self):
        return '_REQUIRED'

    def __repr__(self):
        return '<required>'


_REQUIRED = _Required()
_SCALARS = (str, bytes, bool, int, float)


class _Spec:
    """One field: its kind (how values are written and read), target type and default."""

    __slots__ = ('name', 'kind', 'target', 'default', 'factory', 'optional')

    def __init__(self, name, kind, target, default, factory, optional):
        self.name = name
        self.kind = kind
        self.target = target
        self.default = default
        self.factory = factory
        self.optional = optional

    @property
    def required(self):
        return self.default is _REQUIRED and self.factory is None and not self.optional


def _unwrap_optional(annotation):
    """(inner annotation, whether None is allowed)."""
    if typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        return (args[0] if len(args) == 1 else annotation), optional
    return annotation, annotation is typing.Any


def _kind_of(annotation):
    from shoal.docarray.doc_list import DocList
    if not isinstance(annotation, type):
        return 'plain'
    if issubclass(annotation, da_typing.ID):
        return 'id'
    if issubclass(annotation, da_typing.AbstractTensor):
        return 'tensor'
    if issubclass(annotation, (da_typing._TaggedStr, da_typing._TaggedBytes)):
        return 'tagged'
    if issubclass(annotation, DocList):
        return 'doc_list'
    if issubclass(annotation, BaseDoc):
        return 'doc'
    if annotation in _SCALARS:
        return 'scalar'
    if annotation is np.ndarray:
        return 'tensor'
    return 'plain'


def _make_spec(name, annotation, raw_default):
    inner, optional = _unwrap_optional(annotation)
    kind = _kind_of(inner)
    if kind == 'tensor' and inner is np.ndarray:
        inner = da_typing.NdArray
    default, factory = raw_default, None
    # pydantic's Field(default=..., default_factory=...), for code written against docarray.
    if hasattr(raw_default, 'default_factory') and hasattr(raw_default, 'default'):
        factory = raw_default.default_factory
        default = raw_default.default
        if default is Ellipsis or type(default).__name__ == 'PydanticUndefinedType':
            default = _REQUIRED
    if kind == 'id' and default is _REQUIRED and factory is None:
        factory = lambda: os.urandom(16).hex()  # noqa: E731 (docarray's default id)
    return _Spec(name, kind, inner, default, factory, optional)


def _wrap_handle(value):
    """A native value read without a schema: nested docs and lists as AnyDoc wrappers."""
    if isinstance(value, _shoal.Doc):
        return AnyDoc._wrap(value)
    if isinstance(value, _shoal.DocList):
        from shoal.docarray.doc_list import DocList
        return DocList[AnyDoc]._wrap(value)
    return value


# Values the native API takes as they are (checked first: setting a text is the common case).
_PLAIN_TYPES = frozenset((str, int, float, bool, bytes, type(None)))


def _native(value):
    """`value` as the native document API takes it (wrappers unwrapped, tensors as numpy)."""
    if type(value) in _PLAIN_TYPES:
        return value, None
    from shoal.docarray.doc_list import DocList
    if isinstance(value, BaseDoc):
        return value._doc, None
    if isinstance(value, DocList):
        return value._docs, None
    if isinstance(value, np.ndarray) or da_typing._is_torch(value):
        return da_typing.NdArray._validate('value', value)
    if isinstance(value, np.generic):
        return value.item(), None
    return value, None


def _set(handle, name, value, tag=None):
    try:
        if tag is None:
            handle.set(name, value)
        else:
            handle.set(name, value, tag)
    except TypeError as e:
        raise ValidationError(f"field '{name}': {e}") from None


def _write(handle, spec, value):
    """Writes `value` into field `spec` of the message `handle`, as docarray encodes it."""
    name, kind = spec.name, spec.kind
    if kind == 'id':
        # None gives a fresh id: Shoal's documents always have one.
        try:
            handle.id = os.urandom(16).hex() if value is None else spec.target._validate(
                name, value)[0]
        except TypeError as e:
            raise ValidationError(str(e)) from None
    elif value is None:
        _set(handle, name, None)
    elif kind in ('tensor', 'tagged'):
        try:
            converted, tag = spec.target._validate(name, value)
        except (TypeError, ValueError) as e:
            raise ValidationError(str(e)) from None
        _set(handle, name, converted, tag)
    elif kind == 'doc':
        if isinstance(value, dict):
            value = spec.target(**value)
        if not isinstance(value, BaseDoc):
            raise ValidationError(
                f"field '{name}': expected a {spec.target.__name__}, got {type(value).__name__}")
        _set(handle, name, value._doc)
    elif kind == 'doc_list':
        if not hasattr(value, '_docs'):
            if not isinstance(value, (list, tuple)):
                raise ValidationError(
                    f"field '{name}': expected a {spec.target.__name__}, got "
                    f'{type(value).__name__}')
            value = spec.target(value)
        _set(handle, name, value._docs)
    elif kind == 'scalar':
        _set(handle, name, _check_scalar(spec, value))
    else:
        converted, tag = _native(value)
        _set(handle, name, converted, tag)


def _check_scalar(spec, value):
    target = spec.target
    if target is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if target is int and isinstance(value, bool):
        return value
    if isinstance(value, np.generic) and isinstance(value.item(), target):
        return value.item()
    if not isinstance(value, target):
        raise ValidationError(
            f"field '{spec.name}': expected {target.__name__}, got {type(value).__name__}")
    return value


def _write_default(handle, spec):
    if spec.factory is not None:
        _write(handle, spec, spec.factory())
    elif spec.default is _REQUIRED:
        if not spec.optional:
            raise ValidationError(f"field '{spec.name}' is required")
        _set(handle, spec.name, None)
    else:
        _write(handle, spec, spec.default)


def _read(handle, spec):
    """The value of field `spec` in `handle`: nested docs and lists as wrappers of the annotated
    type (a list with a list default is created in the message on first use), tensors as numpy
    views, an absent field as its default."""
    name, kind = spec.name, spec.kind
    if kind == 'id':
        value = handle.id
        if not value:
            value = os.urandom(16).hex()
            handle.id = value
        return value
    value = handle.get(name, _REQUIRED)
    if kind == 'doc_list':
        if isinstance(value, _shoal.DocList):
            return spec.target._wrap(value)
        if value is _REQUIRED and spec.default is not None:
            if spec.factory is not None or hasattr(spec.default, '_docs'):
                _write_default(handle, spec)
            return spec.target._wrap(handle.doc_list(name))
        return None
    if value is _REQUIRED:
        if kind == 'doc' and (spec.factory is not None or isinstance(spec.default, BaseDoc)):
            _write_default(handle, spec)
            return spec.target._wrap(handle.doc(name))
        if spec.factory is not None:
            return spec.factory()
        if spec.default is _REQUIRED or spec.default is None:
            return None
        # A copy, so that changing the value read cannot change the class's default.
        return copy.deepcopy(spec.default)
    if kind == 'doc' and isinstance(value, _shoal.Doc):
        return spec.target._wrap(value)
    return _wrap_handle(value)


class _Field:
    """The descriptor of one field: reads and writes go to the wrapped message."""

    __slots__ = ('name',)

    def __init__(self, name):
        self.name = name

    def __get__(self, obj, owner):
        if obj is None:
            return self
        return _read(obj._doc, type(obj)._docarray_fields()[self.name])

    def __set__(self, obj, value):
        _write(obj._doc, type(obj)._docarray_fields()[self.name], value)


class BaseDoc:
    """The base of every document class: subclass it and annotate fields, as with docarray.

    ``TextDoc(text='a', embedding=np.zeros(128))`` builds a new message; ``T._wrap(handle)``
    wraps an existing one without copying it.
    """

    __slots__ = ('_doc',)
    id: typing.Optional[da_typing.ID]

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        raw = cls.__dict__.get('__annotations__', {})
        defaults = {}
        for name in raw:
            if name.startswith('_') or 'ClassVar' in str(raw[name]):
                continue
            defaults[name] = cls.__dict__.get(name, _REQUIRED)
            setattr(cls, name, _Field(name))
        cls._raw_defaults = defaults
        cls._specs = None

    @classmethod
    def _docarray_fields(cls):
        """{name: field spec}, base fields first."""
        specs = cls.__dict__.get('_specs')
        if specs is None:
            specs = cls._resolve_fields()
            cls._specs = specs
        return specs

    @classmethod
    def _resolve_fields(cls):
        try:
            hints = typing.get_type_hints(cls)
        except NameError as e:
            raise TypeError(f'{cls.__name__}: cannot resolve a field annotation: {e}') from None
        specs = {}
        for klass in reversed(cls.__mro__):
            raw = klass.__dict__.get('__annotations__', {})
            for name in raw:
                if name.startswith('_') or typing.get_origin(hints.get(name)) is typing.ClassVar:
                    continue
                # The default of the most derived class that declares the field.
                default = _REQUIRED
                for k in cls.__mro__:
                    if name in k.__dict__.get('__annotations__', {}):
                        default = k.__dict__.get('_raw_defaults', {}).get(name, _REQUIRED)
                        break
                specs.pop(name, None)
                specs[name] = _make_spec(name, hints[name], default)
        if 'id' in specs:
            specs = {'id': specs.pop('id'), **specs}
        return specs

    def __init__(self, **kwargs):
        specs = type(self)._docarray_fields()
        unknown = [k for k in kwargs if k not in specs]
        if unknown:
            raise ValidationError(
                f'{type(self).__name__}: unknown field {unknown[0]!r} (fields: '
                f"{', '.join(specs)})")
        handle = _shoal.Doc()
        object.__setattr__(self, '_doc', handle)
        for name, spec in specs.items():
            try:
                if name in kwargs:
                    _write(handle, spec, kwargs[name])
                else:
                    _write_default(handle, spec)
            except ValidationError as e:
                raise ValidationError(f'{type(self).__name__}: {e}') from None

    @classmethod
    def _wrap(cls, handle):
        """A `cls` over the native document `handle`; reads and writes go to it (no copy)."""
        doc = object.__new__(cls)
        object.__setattr__(doc, '_doc', handle)
        return doc

    def __setattr__(self, name, value):
        if name.startswith('_') or name in type(self)._docarray_fields():
            object.__setattr__(self, name, value)
        else:
            raise ValidationError(f'"{type(self).__name__}" object has no field "{name}"')

    def __iter__(self):
        for name in type(self)._docarray_fields():
            yield name, getattr(self, name)

    def dict(self, exclude=None):
        """{field: value}; nested documents as dicts and document lists as lists of dicts."""
        exclude = set(exclude or ())
        return {name: _plain(value) for name, value in self if name not in exclude}

    def copy(self, deep=True):
        """An independent copy (always deep: the message is copied)."""
        return type(self)._wrap(self._doc.copy())

    def to_bytes(self):
        """The docarray.DocProto message, serialised."""
        return self._doc.to_bytes()

    @classmethod
    def from_bytes(cls, data):
        return cls._wrap(_shoal.Doc.from_bytes(bytes(data)))

    def to_protobuf(self, message_class=None):
        """The message as `message_class` (a generated docarray.DocProto class) when given, else
        its serialised bytes."""
        data = self.to_bytes()
        return data if message_class is None else message_class.FromString(data)

    @classmethod
    def from_protobuf(cls, message):
        """From a docarray.DocProto message object (anything with SerializeToString) or bytes."""
        data = message.SerializeToString() if hasattr(message, 'SerializeToString') else message
        return cls.from_bytes(data)

    def __reduce__(self):
        return (type(self).from_bytes, (self.to_bytes(),))

    def __eq__(self, other):
        # docarray's rule: same fields, equal values, ids aside.
        if not isinstance(other, BaseDoc):
            return NotImplemented
        if type(self)._docarray_fields().keys() != type(other)._docarray_fields().keys():
            return False
        for name in type(self)._docarray_fields():
            if name != 'id' and not _values_equal(getattr(self, name), getattr(other, name)):
                return False
        return True

    __hash__ = None

    def __repr__(self):
        parts = ', '.join(f'{name}={_short_repr(value)}' for name, value in self)
        return f'{type(self).__name__}({parts})'


def _values_equal(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return False
        return a.shape == b.shape and bool((a == b).all())
    return a == b


def _plain(value):
    from shoal.docarray.doc_list import DocList
    if isinstance(value, BaseDoc):
        return value.dict()
    if isinstance(value, DocList):
        return [doc.dict() for doc in value]
    return value


def _short_repr(value):
    if isinstance(value, np.ndarray):
        return f'NdArray(shape={value.shape}, dtype={value.dtype})'
    return repr(value)


class AnyDoc(BaseDoc):
    """A document of any schema: every field of the message, by name, without validation."""

    def __init__(self, **kwargs):
        handle = _shoal.Doc()
        object.__setattr__(self, '_doc', handle)
        handle.id = kwargs.pop('id', None) or os.urandom(16).hex()
        for name, value in kwargs.items():
            converted, tag = _native(value)
            _set(handle, name, converted, tag)

    def __getattr__(self, name):
        if name.startswith('_'):
            raise AttributeError(name)
        value = self._doc.get(name, _REQUIRED)
        if value is _REQUIRED:
            raise AttributeError(f"AnyDoc has no field '{name}'")
        return _wrap_handle(value)

    def __setattr__(self, name, value):
        if name.startswith('_') or name == 'id':
            object.__setattr__(self, name, value)
            return
        converted, tag = _native(value)
        _set(self._doc, name, converted, tag)

    def __iter__(self):
        yield 'id', self.id
        for name in self._doc.fields():
            if name != 'id':
                yield name, getattr(self, name)


# BaseDoc's own field: id, a fresh 32-hex-digit id unless given.
BaseDoc._raw_defaults = {'id': _REQUIRED}
BaseDoc.id = _Field('id')
BaseDoc._specs = None
