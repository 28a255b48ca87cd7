"""shoal.docarray documents on the wire are docarray's: each is compared with the message docarray
0.40 writes for it (its encoding rules, built here with python3-protobuf classes generated from
proto/docarray.proto), and messages written that way are read back field by field."""
import importlib
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import pytest

from shoal.docarray import BaseDoc, DocList
from shoal.docarray.documents import ImageDoc, TextDoc

PROTO_DIR = Path(__file__).resolve().parents[2] / 'proto'


@pytest.fixture(scope='module')
def pb(tmp_path_factory):
    """docarray_pb2, generated from the repository's proto/docarray.proto."""
    out = tmp_path_factory.mktemp('docarray_pb2')
    source = str(PROTO_DIR / 'docarray.proto')
    if importlib.util.find_spec('grpc_tools') is not None:
        command = [sys.executable, '-m', 'grpc_tools.protoc']
    else:
        if shutil.which('protoc') is None:
            pytest.fail('needs protoc (Debian protobuf-compiler) or python3-grpc-tools')
        command = ['protoc']
    subprocess.run(command + [f'-I{PROTO_DIR}', f'--python_out={out}', source], check=True)
    sys.path.insert(0, str(out))
    try:
        return importlib.import_module('docarray_pb2')
    finally:
        sys.path.remove(str(out))


class QueryDoc(TextDoc):
    matches: DocList[TextDoc] = DocList[TextDoc]()


class Product(BaseDoc):
    title: str
    count: int = 0
    price: float = 0.0
    on_sale: bool = False
    tags: Dict[str, str] = {}
    sizes: List[int] = []
    image: Optional[ImageDoc] = None


def ndarray_node(pb, array, type_tag):
    """A NodeProto holding `array` as docarray's NdArray._to_node_protobuf writes it."""
    node = pb.NodeProto(type=type_tag)
    node.ndarray.dense.buffer = array.tobytes()
    node.ndarray.dense.shape.extend(array.shape)
    node.ndarray.dense.dtype = array.dtype.str
    return node


def text_doc_message(pb, doc_id, text=None, embedding=None):
    """What docarray's TextDoc(...).to_protobuf() gives: every field, None ones as empty nodes."""
    message = pb.DocProto()
    message.data['id'].CopyFrom(pb.NodeProto(text=doc_id, type='id'))
    message.data['text'].CopyFrom(pb.NodeProto() if text is None else pb.NodeProto(text=text))
    message.data['url'].CopyFrom(pb.NodeProto())
    message.data['embedding'].CopyFrom(
        pb.NodeProto() if embedding is None else ndarray_node(pb, embedding, 'ndarray_embedding'))
    message.data['bytes_'].CopyFrom(pb.NodeProto())
    return message


def parse(pb, doc):
    return pb.DocProto.FromString(doc.to_bytes())


def test_text_doc_is_encoded_as_docarray_does(pb):
    embedding = np.arange(4, dtype=np.float32)
    doc = TextDoc(id='d1', text='hello', embedding=embedding)
    assert parse(pb, doc) == text_doc_message(pb, 'd1', 'hello', embedding)


def test_float64_embedding_keeps_its_dtype(pb):
    embedding = np.random.default_rng(1).random(128)
    doc = TextDoc(id='d2', embedding=embedding)
    assert parse(pb, doc) == text_doc_message(pb, 'd2', None, embedding)


def test_torch_embedding_is_tagged_as_docarray_tags_it(pb):
    torch = pytest.importorskip('torch')
    doc = TextDoc(id='d3', embedding=torch.ones(3))
    expected = text_doc_message(pb, 'd3', None, np.ones(3, dtype=np.float32))
    expected.data['embedding'].type = 'torch_embedding'
    assert parse(pb, doc) == expected


def test_query_doc_with_matches_is_a_nested_doc_array(pb):
    query = QueryDoc(id='q', text='q', matches=[TextDoc(id='m1', text='a')])
    expected = text_doc_message(pb, 'q', 'q')
    expected.data['matches'].doc_array.docs.add().CopyFrom(text_doc_message(pb, 'm1', 'a'))
    assert parse(pb, query) == expected
    empty = QueryDoc(id='e')
    expected_empty = text_doc_message(pb, 'e')
    expected_empty.data['matches'].doc_array.SetInParent()
    assert parse(pb, empty) == expected_empty


def test_image_doc_urls_tensors_and_bytes_carry_their_tags(pb):
    tensor = np.zeros((2, 2, 3), dtype=np.uint8)
    doc = ImageDoc(id='i', url='http://x/a.png', tensor=tensor, bytes_=b'\x89PNG')
    expected = pb.DocProto()
    expected.data['id'].CopyFrom(pb.NodeProto(text='i', type='id'))
    expected.data['url'].CopyFrom(pb.NodeProto(text='http://x/a.png', type='image_url'))
    expected.data['tensor'].CopyFrom(ndarray_node(pb, tensor, 'image_ndarray'))
    expected.data['embedding'].CopyFrom(pb.NodeProto())
    expected.data['bytes_'].CopyFrom(pb.NodeProto(blob=b'\x89PNG', type='image_bytes'))
    assert parse(pb, doc) == expected


def test_scalars_containers_and_nested_docs(pb):
    image = ImageDoc(id='img')
    product = Product(id='p', title='t', count=3, price=2.5, on_sale=True, tags={'k': 'v'},
                      sizes=[1, 2], image=image)
    expected = pb.DocProto()
    expected.data['id'].CopyFrom(pb.NodeProto(text='p', type='id'))
    expected.data['title'].CopyFrom(pb.NodeProto(text='t'))
    expected.data['count'].CopyFrom(pb.NodeProto(integer=3))
    expected.data['price'].CopyFrom(pb.NodeProto(float=2.5))
    expected.data['on_sale'].CopyFrom(pb.NodeProto(boolean=True))
    expected.data['tags'].dict.data['k'].CopyFrom(pb.NodeProto(text='v'))
    expected.data['sizes'].list.data.add().CopyFrom(pb.NodeProto(integer=1))
    expected.data['sizes'].list.data.add().CopyFrom(pb.NodeProto(integer=2))
    expected.data['image'].doc.CopyFrom(parse(pb, image))
    assert parse(pb, product) == expected


def test_doc_list_is_a_doc_list_proto(pb):
    docs = DocList[TextDoc]([TextDoc(id=str(i), text=str(i)) for i in range(3)])
    expected = pb.DocListProto()
    for i in range(3):
        expected.docs.add().CopyFrom(text_doc_message(pb, str(i), str(i)))
    assert pb.DocListProto.FromString(docs.to_bytes()) == expected
    assert docs.to_protobuf(pb.DocListProto) == expected


def test_messages_written_by_docarray_read_back(pb):
    embedding = np.linspace(0, 1, 8)
    sent = pb.DocListProto()
    sent.docs.add().CopyFrom(text_doc_message(pb, 'a', 'first', embedding))
    sparse = sent.docs.add()  # fields docarray's peers may leave out entirely
    sparse.data['id'].CopyFrom(pb.NodeProto(text='b', type='id'))
    sparse.data['extra'].CopyFrom(pb.NodeProto(integer=7))
    docs = DocList[QueryDoc].from_protobuf(sent)
    assert docs.id == ['a', 'b']
    assert docs.text == ['first', None]
    np.testing.assert_array_equal(docs[0].embedding, embedding)
    assert docs[0].embedding.dtype == np.float64
    assert docs[1].embedding is None and len(docs[1].matches) == 0
    docs[1].matches.append(TextDoc(id='m', text='match'))
    back = pb.DocListProto.FromString(docs.to_bytes())
    assert back.docs[1].data['extra'].integer == 7  # fields outside the schema are kept
    assert back.docs[1].data['matches'].doc_array.docs[0].data['text'].text == 'match'
