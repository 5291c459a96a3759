"""utils.tensorboard.SummaryWriter: scalar event files in TensorBoard's format. The records' CRCs
are checked as TensorBoard's reader checks them, and the Event messages are parsed with the real
protobuf library (built from the documented field numbers) where it is installed."""
from __future__ import annotations

import glob
import os
import struct

import pytest

import tensorgrad as tg
from tensorgrad.utils.tensorboard import SummaryWriter, _masked_crc, crc32c


def _records(path):
    data, pos, out = open(path, "rb").read(), 0, []
    while pos < len(data):
        (n,) = struct.unpack_from("<Q", data, pos)
        assert struct.unpack_from("<I", data, pos + 8)[0] == _masked_crc(data[pos:pos + 8])
        payload = data[pos + 12:pos + 12 + n]
        assert struct.unpack_from("<I", data, pos + 12 + n)[0] == _masked_crc(payload)
        out.append(payload)
        pos += 16 + n
    return out


def test_crc32c_matches_the_standard_check_value():
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value of RFC 3720


def test_scalars_are_framed_records_with_events(tmp_path):
    with SummaryWriter(str(tmp_path)) as w:
        for step in range(3):
            w.add_scalar("loss/train", tg.tensor(0.25 * step), step)
        w.add_scalars("acc", {"a": 1.0, "b": 2.0}, 7)
    main = glob.glob(str(tmp_path / "events.out.tfevents.*"))
    assert len(main) == 1 and len(_records(main[0])) == 4  # the file_version header, then 3 scalars
    assert sorted(os.listdir(tmp_path)) == sorted(["acc_a", "acc_b", os.path.basename(main[0])])
    pb = pytest.importorskip("google.protobuf", reason="protobuf is not installed: the Event parse is skipped")
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    fd = descriptor_pb2.FileDescriptorProto(name="event_check.proto", package="check")
    value = fd.message_type.add(name="Value")
    value.field.add(name="tag", number=1, type=9, label=1)
    value.field.add(name="simple_value", number=2, type=2, label=1)
    fd.message_type.add(name="Summary").field.add(name="value", number=1, type=11, label=3, type_name=".check.Value")
    ev = fd.message_type.add(name="Event")
    ev.field.add(name="wall_time", number=1, type=1, label=1)
    ev.field.add(name="step", number=2, type=3, label=1)
    ev.field.add(name="file_version", number=3, type=9, label=1)
    ev.field.add(name="summary", number=5, type=11, label=1, type_name=".check.Summary")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    Event = message_factory.GetMessageClass(pool.FindMessageTypeByName("check.Event"))
    events = [Event.FromString(r) for r in _records(main[0])]
    assert events[0].file_version == "brain.Event:2" and pb is not None
    assert [(e.step, e.summary.value[0].tag, e.summary.value[0].simple_value) for e in events[1:]] == \
        [(0, "loss/train", 0.0), (1, "loss/train", 0.25), (2, "loss/train", 0.5)]
    (b_file,) = glob.glob(str(tmp_path / "acc_b" / "events.*"))
    last = Event.FromString(_records(b_file)[-1])
    assert (last.step, last.summary.value[0].tag, last.summary.value[0].simple_value) == (7, "acc", 2.0)


def test_other_summaries_are_skipped_with_one_warning(tmp_path):
    w = SummaryWriter(str(tmp_path))
    with pytest.warns(UserWarning, match="add_image: tensorgrad writes scalars only"):
        w.add_image("img", tg.zeros(3, 4, 4), 0)
        w.add_image("img", tg.zeros(3, 4, 4), 1)  # once per method: this call adds no second warning
    with pytest.warns(UserWarning, match="add_histogram"):
        w.add_histogram("h", tg.zeros(3), 0)
    w.close()
    with pytest.raises(AttributeError):
        w.not_a_method
