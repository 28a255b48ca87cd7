"""examples/python/torch_encoder: a torch encoder (2 replicas) and the C++ ExactNNIndexer in one
Flow, run as a program and checked by what it prints."""
import os
import re
import subprocess
import sys

import shoal

EXAMPLE = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..',
                                       'examples', 'python', 'torch_encoder',
                                       'index_and_search.py'))


def run_example(tmp_path):
    env = {**os.environ,
           'PYTHONPATH': os.path.dirname(os.path.dirname(os.path.abspath(shoal.__file__)))}
    if env.get('SHOAL_BIN'):
        env['SHOAL_BIN'] = os.path.abspath(env['SHOAL_BIN'])
    result = subprocess.run([sys.executable, EXAMPLE], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def parse(output):
    """{query: [match texts, best first]} in the order printed."""
    queries = {}
    current = None
    for line in output.splitlines():
        query = re.fullmatch(r"query: '(.*)'", line)
        match = re.fullmatch(r"  match: '(.*)' score=(\S+)", line)
        if query:
            current = query.group(1)
            queries[current] = []
        elif match:
            queries[current].append(match.group(1))
    return queries


def test_the_torch_encoder_flow_indexes_and_finds_the_texts(tmp_path):
    output = run_example(tmp_path)
    assert 'indexed 300 docs' in output, output
    encoded = {int(r): int(n) for r, n in
               re.findall(r'encoder replica (\d+) encoded (\d+) docs', output)}
    # Both replicas of the encoder served, between them every doc.
    assert sorted(encoded) == [0, 1], output
    assert all(n > 0 for n in encoded.values()) and sum(encoded.values()) == 300, output
    queries = parse(output)
    assert len(queries) == 4, output
    assert all(len(matches) == 3 for matches in queries.values()), output
    # A query equal to an indexed text finds that text first: whichever replica encoded it, the
    # embedding is the same.
    indexed_queries = [q for q in queries if re.search(r' n\d+$', q)]
    assert len(indexed_queries) == 3, output
    for query in indexed_queries:
        assert queries[query][0] == query, output
