"""Indexes texts through a Flow (a torch encoder with 2 replicas, then the built-in C++
ExactNNIndexer) and searches them."""
import collections
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from typing import Optional

from shoal import Flow
from shoal.docarray import DocList
from shoal.docarray.documents import TextDoc

from encoder import EncodedDoc, TorchEncoder



class MatchDoc(TextDoc):
    score: Optional[float] = None


class QueryDoc(EncodedDoc):
    matches: DocList[MatchDoc] = DocList[MatchDoc]()


WORDS = ('red green blue small large fast slow river mountain city forest ocean cloud stone '
         'light dark warm cold old new quiet loud bright deep').split()


def texts(count, seed=7):
    rng = random.Random(seed)
    return [' '.join(rng.choice(WORDS) for _ in range(rng.randint(3, 8))) + f' n{i}'
            for i in range(count)]


def main():
    corpus = texts(300)
    queries = [corpus[5], corpus[150], corpus[299], 'blue ocean deep cold']
    flow = Flow().add(uses=TorchEncoder, replicas=2).add(uses='ExactNNIndexer')
    with flow:
        indexed = flow.post('/index', DocList[EncodedDoc]([EncodedDoc(text=t) for t in corpus]),
                            request_size=10, return_type=DocList[EncodedDoc])
        by_replica = collections.Counter(doc.encoded_by for doc in indexed)
        print(f'indexed {len(indexed)} docs')
        for replica, count in sorted(by_replica.items()):
            print(f'encoder replica {replica} encoded {count} docs')
        found = flow.post('/search', DocList[QueryDoc]([QueryDoc(text=q) for q in queries]),
                          parameters={'limit': 3}, return_type=DocList[QueryDoc])
    for query in found:
        print(f'query: {query.text!r}')
        for match in query.matches:
            print(f'  match: {match.text!r} score={match.score:.4f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
