"""An Executor that tells which GPU its replica was given (CUDA_VISIBLE_DEVICES, set by the
Deployment before the replica's interpreter starts, so torch and CUDA see only that device)."""
import os

from shoal import Executor, requests


class DeviceExecutor(Executor):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.device = os.environ.get('CUDA_VISIBLE_DEVICES', '')
        self.logger.info(f'CUDA_VISIBLE_DEVICES={self.device}')

    @requests
    def encode(self, docs, **kwargs):
        for doc in docs:
            doc.text = self.device
