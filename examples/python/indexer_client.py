from shoal import Client
from shoal.docarray import DocList
from shoal.docarray.documents import TextDoc
import time
import numpy as np

class QueryDoc(TextDoc):
    matches: DocList[TextDoc] = DocList[TextDoc]()

NUM_DOCS_TO_INDEX = 10000
NUM_QUERIES = 100

c = Client(port=5555)

index_docs = DocList[TextDoc]([TextDoc(text=f'I am document {i}', embedding=np.random.rand(128)) for i in range(NUM_DOCS_TO_INDEX)])
start_indexing_time = time.time()
c.post(on='/index', inputs=index_docs, request_size=100)
time.sleep(2) # let some time for the data to be replicated

search_da = DocList[QueryDoc]([QueryDoc(text=f'I am document {i}', embedding=np.random.rand(128)) for i in range(NUM_QUERIES)])
start_querying_time = time.time()
for query in search_da:
   responses = c.post(on='/search', inputs=query, request_size=1)
   for res in responses:
        print(f'{res.matches}')
