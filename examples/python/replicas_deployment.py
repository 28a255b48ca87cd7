from shoal import Deployment

dep = Deployment(name='slow_encoder', replicas=3)
