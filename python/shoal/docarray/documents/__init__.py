"""docarray's predefined documents: TextDoc, ImageDoc, AudioDoc, VideoDoc (same fields, same
wire encoding)."""

from typing import Optional

from shoal.docarray.base_doc import BaseDoc
from shoal.docarray.typing import (AnyEmbedding, AnyTensor, AudioBytes, AudioTensor, AudioUrl,
                                   ImageBytes, ImageTensor, ImageUrl, TextUrl, VideoBytes,
                                   VideoTensor, VideoUrl)

__all__ = ['TextDoc', 'ImageDoc', 'AudioDoc', 'VideoDoc']


class TextDoc(BaseDoc):
    """Text with an optional URL, embedding and raw bytes."""

    text: Optional[str] = None
    url: Optional[TextUrl] = None
    embedding: Optional[AnyEmbedding] = None
    bytes_: Optional[bytes] = None

    def __init__(self, text=None, **kwargs):
        # docarray's TextDoc('hello'): the text may be given by position.
        if text is not None:
            kwargs['text'] = text
        super().__init__(**kwargs)

    def __eq__(self, other):
        if isinstance(other, str):
            return self.text == other
        return super().__eq__(other)

    __hash__ = None

    def __contains__(self, item):
        return self.text is not None and item in self.text


class ImageDoc(BaseDoc):
    """An image: URL, pixel tensor, embedding and encoded bytes."""

    url: Optional[ImageUrl] = None
    tensor: Optional[ImageTensor] = None
    embedding: Optional[AnyEmbedding] = None
    bytes_: Optional[ImageBytes] = None


class AudioDoc(BaseDoc):
    """Audio: URL, sample tensor, embedding, encoded bytes and frame rate."""

    url: Optional[AudioUrl] = None
    tensor: Optional[AudioTensor] = None
    embedding: Optional[AnyEmbedding] = None
    bytes_: Optional[AudioBytes] = None
    frame_rate: Optional[int] = None


class VideoDoc(BaseDoc):
    """Video: URL, its audio, frame tensor, key frame indices, embedding and encoded bytes."""

    url: Optional[VideoUrl] = None
    audio: Optional[AudioDoc] = AudioDoc()
    tensor: Optional[VideoTensor] = None
    key_frame_indices: Optional[AnyTensor] = None
    embedding: Optional[AnyEmbedding] = None
    bytes_: Optional[VideoBytes] = None
