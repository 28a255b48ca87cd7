# The seed's GPU round robin, with a local Executor instead of a hub one:
#   CUDA_VISIBLE_DEVICES=RR python gpu_deployment.py
from shoal import Deployment

dep = Deployment(uses='device_executor.py:DeviceExecutor', replicas=5)

with dep:
    dep.block()
