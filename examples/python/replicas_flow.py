from shoal import Flow

f = Flow().add(name='slow_encoder', replicas=3).add(name='fast_indexer')
