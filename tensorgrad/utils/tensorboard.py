"""torch.utils.tensorboard.SummaryWriter for scalars, with no dependency: TensorBoard event files
(TFRecord framing of Event protocol buffers, encoded here by hand) that `tensorboard --logdir`
reads. add_scalar and add_scalars are written; the other add_* methods (images, histograms,
graphs, ...) are accepted and skipped, with one warning per method, so training scripts run.

Format facts (TensorFlow's documentation): a record is uint64 length, uint32 masked CRC-32C of
the length, the data, uint32 masked CRC-32C of the data, little-endian. Event: wall_time (field 1,
double), step (2, int64), file_version (3, string), summary (5); Summary.value (1):
tag (1, string), simple_value (2, float).
"""
from __future__ import annotations

import os
import socket
import struct
import time
import warnings

# ---------------------------------------------------------------- CRC-32C (Castagnoli), table-driven
_CRC_TABLE = []
for _n in range(256):
    _c = _n
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _masked_crc(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def record(data: bytes) -> bytes:
    """One TFRecord: the framing TensorBoard's reader checks."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", _masked_crc(length)) + data + struct.pack("<I", _masked_crc(data))


# ---------------------------------------------------------------- protocol buffer encoding
def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative int64 as two's complement, as protobuf does
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _field(number, 2) + _varint(len(payload)) + payload


def event(wall_time: float, step: int = 0, *, file_version: str | None = None, scalar=None) -> bytes:
    """An Event message: the file header (file_version) or one scalar summary (tag, value)."""
    out = _field(1, 1) + struct.pack("<d", wall_time) + _field(2, 0) + _varint(int(step))
    if file_version is not None:
        out += _bytes_field(3, file_version.encode())
    if scalar is not None:
        tag, value = scalar
        summary_value = _bytes_field(1, tag.encode()) + _field(2, 5) + struct.pack("<f", value)
        out += _bytes_field(5, _bytes_field(1, summary_value))
    return out


# ---------------------------------------------------------------- the writer
class SummaryWriter:
    """Writes scalar summaries to log_dir (default runs/<date>_<host><comment>), as PyTorch's."""

    def __init__(self, log_dir=None, comment="", purge_step=None, max_queue=10, flush_secs=120,
                 filename_suffix=""):
        if log_dir is None:
            stamp = time.strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", f"{stamp}_{socket.gethostname()}{comment}")
        self.log_dir = str(log_dir)
        self._suffix = filename_suffix
        self._files: dict[str, object] = {}
        self._warned: set[str] = set()
        self._file(self.log_dir)

    def get_logdir(self) -> str:
        return self.log_dir

    def _file(self, directory: str):
        f = self._files.get(directory)
        if f is None:
            os.makedirs(directory, exist_ok=True)
            name = f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}.{os.getpid()}.{len(self._files)}"
            f = open(os.path.join(directory, name + self._suffix), "ab")
            f.write(record(event(time.time(), file_version="brain.Event:2")))
            self._files[directory] = f
        return f

    @staticmethod
    def _number(value) -> float:
        return float(value.item() if hasattr(value, "item") else value)

    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None, new_style=False,
                   double_precision=False):
        self._file(self.log_dir).write(record(event(time.time() if walltime is None else walltime,
                                                    global_step or 0, scalar=(tag, self._number(scalar_value)))))

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """One run per key, in log_dir/<main_tag>_<key>, all under the tag main_tag (as PyTorch)."""
        t = time.time() if walltime is None else walltime
        for key, value in tag_scalar_dict.items():
            directory = os.path.join(self.log_dir, f"{main_tag.replace('/', '_')}_{key}")
            self._file(directory).write(record(event(t, global_step or 0, scalar=(main_tag, self._number(value)))))

    def _skipped(self, method: str):
        if method not in self._warned:
            self._warned.add(method)
            warnings.warn(f"SummaryWriter.{method}: tensorgrad writes scalars only (add_scalar, add_scalars); "
                          f"this call is skipped", UserWarning, stacklevel=3)

    def __getattr__(self, name):
        if name.startswith("add_"):  # add_image, add_histogram, add_graph, add_text, add_hparams, ...
            return lambda *args, **kwargs: self._skipped(name)
        raise AttributeError(f"'SummaryWriter' object has no attribute '{name}'")

    def flush(self):
        for f in self._files.values():
            f.flush()

    def close(self):
        for f in self._files.values():
            f.close()
        self._files.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


__all__ = ["SummaryWriter"]
