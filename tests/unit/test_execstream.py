"""The exec stream decoder: frames cut anywhere, UTF-8 cut anywhere, streams kept apart."""
import pytest

from labapp.sandbox.execstream import STDERR, STDOUT, Chunk, FrameDecoder, OutputDecoder, frame

KOREAN = "안녕하세요, 오버레이 네트워크!\n"


def _collect(decoder, pieces):
    chunks = []
    for piece in pieces:
        chunks.extend(decoder.feed(piece))
    chunks.extend(decoder.close())
    return chunks


def _text(chunks, stream):
    return "".join(c.text for c in chunks if c.stream == stream)


def test_frames_come_out_whole_when_bytes_arrive_one_at_a_time():
    data = frame(STDOUT, b"hello\n") + frame(STDERR, b"oops\n") + frame(STDOUT, b"")
    decoder = FrameDecoder()
    frames = []
    for i in range(len(data)):
        frames.extend(decoder.feed(data[i:i + 1]))
    assert frames == [(STDOUT, b"hello\n"), (STDERR, b"oops\n"), (STDOUT, b"")]
    assert decoder.pending == 0


def test_partial_frame_waits_for_its_rest():
    decoder = FrameDecoder()
    data = frame(STDOUT, b"abcdef")
    assert decoder.feed(data[:10]) == []
    assert decoder.pending == 10
    assert decoder.feed(data[10:]) == [(STDOUT, b"abcdef")]


@pytest.mark.parametrize("cut", range(1, len(KOREAN.encode())))
def test_korean_split_across_frames_is_never_garbled(cut):
    raw = KOREAN.encode()
    data = frame(STDOUT, raw[:cut]) + frame(STDOUT, raw[cut:])
    chunks = _collect(OutputDecoder(), [data])
    assert _text(chunks, "stdout") == KOREAN
    assert "\ufffd" not in _text(chunks, "stdout")


def test_korean_byte_by_byte_in_frames_and_reads():
    raw = KOREAN.encode()
    data = b"".join(frame(STDOUT, raw[i:i + 1]) for i in range(len(raw)))
    pieces = [data[i:i + 3] for i in range(0, len(data), 3)]
    chunks = _collect(OutputDecoder(), pieces)
    assert _text(chunks, "stdout") == KOREAN


def test_stdout_and_stderr_decoded_apart_even_when_interleaved_mid_character():
    out, err = "출력".encode(), "오류".encode()
    data = (frame(STDOUT, out[:2]) + frame(STDERR, err[:4]) + frame(STDOUT, out[2:])
            + frame(STDERR, err[4:]))
    chunks = _collect(OutputDecoder(), [data])
    assert _text(chunks, "stdout") == "출력"
    assert _text(chunks, "stderr") == "오류"


def test_adjacent_chunks_of_one_stream_merge_in_one_feed():
    data = frame(STDOUT, b"a") + frame(STDOUT, b"b") + frame(STDERR, b"c")
    assert OutputDecoder().feed(data) == [Chunk("stdout", "ab"), Chunk("stderr", "c")]


def test_cut_off_character_at_the_end_becomes_a_replacement_not_lost():
    raw = "가".encode()
    chunks = _collect(OutputDecoder(), [frame(STDOUT, b"ok " + raw[:2])])
    assert _text(chunks, "stdout") == "ok \ufffd"


def test_tty_output_is_unframed_stdout():
    raw = "터미널\r\n".encode()
    chunks = _collect(OutputDecoder(tty=True), [raw[:1], raw[1:5], raw[5:]])
    assert _text(chunks, "stdout") == "터미널\r\n"
    assert _text(chunks, "stderr") == ""


def test_unknown_stream_ids_are_not_output():
    data = frame(0, b"stdin echo") + frame(STDOUT, b"real")
    assert OutputDecoder().feed(data) == [Chunk("stdout", "real")]
