from __future__ import annotations

import hashlib

from lib.hashing import sha256_file


def test_it_hashes_a_file_of_several_chunks_as_hashlib_does_the_whole(tmp_path):
    path = tmp_path / "clip.bin"
    content = bytes(range(256)) * 9000  # a little over two read chunks
    path.write_bytes(content)
    assert sha256_file(path) == hashlib.sha256(content).hexdigest()


def test_an_empty_file_has_the_digest_of_no_bytes(tmp_path):
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert sha256_file(path) == hashlib.sha256(b"").hexdigest()
