"""docarray's field types, as annotations.

A field annotated with one of these types holds a plain value: tensors are numpy arrays (torch
tensors and anything with ``__array__`` are converted on assignment), URLs and ids are ``str``,
typed bytes are ``bytes``. The type decides the docarray ``type`` tag written with the value, so
that docarray decodes the field as the class it names.
"""

import uuid

import numpy as np

__all__ = [
    'AbstractTensor', 'AnyTensor', 'NdArray', 'TorchTensor', 'AnyEmbedding', 'NdArrayEmbedding',
    'TorchEmbedding', 'ImageTensor', 'ImageNdArray', 'ImageTorchTensor', 'AudioTensor',
    'AudioNdArray', 'AudioTorchTensor', 'VideoTensor', 'VideoNdArray', 'VideoTorchTensor', 'ID',
    'AnyUrl', 'ImageUrl', 'TextUrl', 'AudioUrl', 'VideoUrl', 'Mesh3DUrl', 'PointCloud3DUrl',
    'ImageBytes', 'AudioBytes', 'VideoBytes',
]


def _is_torch(value):
    return type(value).__module__.split('.')[0] == 'torch'


class AbstractTensor:
    """A tensor field: the value is a numpy array; ``NdArray[128]`` also fixes its shape.

    ``_numpy_tag`` is the ``type`` tag docarray writes for a numpy value of this field and
    ``_torch_tag`` the one for a torch value (docarray keeps torch values as torch tensors).
    """

    _numpy_tag = 'ndarray'
    _torch_tag = 'torch_tensor'
    _shape = None
    _parametrized = {}

    def __class_getitem__(cls, shape):
        shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
        if not all(isinstance(n, int) and n >= 0 for n in shape):
            raise TypeError(f'{cls.__name__}[...]: a shape is non-negative integers, got {shape}')
        key = (cls, shape)
        if key not in AbstractTensor._parametrized:
            name = f"{cls.__name__}[{', '.join(map(str, shape))}]"
            AbstractTensor._parametrized[key] = type(name, (cls,), {'_shape': shape})
        return AbstractTensor._parametrized[key]

    @classmethod
    def _validate(cls, field, value):
        """(numpy array, type tag) for `value`; TypeError/ValueError naming `field` otherwise."""
        tag = cls._torch_tag if _is_torch(value) else cls._numpy_tag
        if _is_torch(value):
            value = value.detach().cpu().numpy()
        try:
            array = np.asarray(value)
        except Exception as e:
            raise TypeError(
                f"field '{field}': expected a tensor, got {type(value).__name__}") from e
        if array.dtype == object or array.dtype.kind not in 'biufc':
            raise TypeError(
                f"field '{field}': expected a numeric tensor, got {type(value).__name__} "
                f'of dtype {array.dtype}')
        if cls._shape is not None and array.shape != cls._shape:
            try:
                array = array.reshape(cls._shape)
            except ValueError:
                raise ValueError(
                    f"field '{field}': cannot reshape tensor of shape {array.shape} to "
                    f'{cls._shape}') from None
        return array, tag


class AnyTensor(AbstractTensor):
    pass


class NdArray(AnyTensor):
    pass


class TorchTensor(AnyTensor):
    _numpy_tag = 'torch_tensor'


class AnyEmbedding(AnyTensor):
    _numpy_tag = 'ndarray_embedding'
    _torch_tag = 'torch_embedding'


class NdArrayEmbedding(AnyEmbedding):
    pass


class TorchEmbedding(AnyEmbedding):
    _numpy_tag = 'torch_embedding'


class ImageTensor(AnyTensor):
    _numpy_tag = 'image_ndarray'
    _torch_tag = 'image_torch_tensor'


class ImageNdArray(ImageTensor):
    pass


class ImageTorchTensor(ImageTensor):
    _numpy_tag = 'image_torch_tensor'


class AudioTensor(AnyTensor):
    _numpy_tag = 'audio_ndarray'
    _torch_tag = 'audio_torch_tensor'


class AudioNdArray(AudioTensor):
    pass


class AudioTorchTensor(AudioTensor):
    _numpy_tag = 'audio_torch_tensor'


class VideoTensor(AnyTensor):
    _numpy_tag = 'video_ndarray'
    _torch_tag = 'video_torch_tensor'


class VideoNdArray(VideoTensor):
    pass


class VideoTorchTensor(VideoTensor):
    _numpy_tag = 'video_torch_tensor'


class _TaggedStr(str):
    """A text field written with a docarray ``type`` tag; values are plain ``str``."""

    _tag = None

    @classmethod
    def _validate(cls, field, value):
        if not isinstance(value, str):
            raise TypeError(f"field '{field}': expected a str, got {type(value).__name__}")
        return str(value), cls._tag


class ID(_TaggedStr):
    """A document id: a str (ints and UUIDs are converted, as docarray does)."""

    _tag = 'id'

    @classmethod
    def _validate(cls, field, value):
        if isinstance(value, (int, uuid.UUID)) and not isinstance(value, bool):
            value = str(value)
        return super()._validate(field, value)


class AnyUrl(_TaggedStr):
    _tag = 'any_url'


class ImageUrl(AnyUrl):
    _tag = 'image_url'


class TextUrl(AnyUrl):
    _tag = 'text_url'


class AudioUrl(AnyUrl):
    _tag = 'audio_url'


class VideoUrl(AnyUrl):
    _tag = 'video_url'


class Mesh3DUrl(AnyUrl):
    _tag = 'mesh_url'


class PointCloud3DUrl(AnyUrl):
    _tag = 'point_cloud_url'


class _TaggedBytes(bytes):
    """A blob field written with a docarray ``type`` tag; values are plain ``bytes``."""

    _tag = None

    @classmethod
    def _validate(cls, field, value):
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"field '{field}': expected bytes, got {type(value).__name__}")
        return bytes(value), cls._tag


class ImageBytes(_TaggedBytes):
    _tag = 'image_bytes'


class AudioBytes(_TaggedBytes):
    _tag = 'audio_bytes'


class VideoBytes(_TaggedBytes):
    _tag = 'video_bytes'
