#!/usr/bin/python3
"""An independent verifier of Even Hand's evidence, written from
docs/INTEGRITY.md and the .proto files alone (no C++ was read to write it).

It checks an investigation bundle (steps 1-7 of "Verifying a bundle"), a
checkpoint's signature, and the test vectors in docs/vectors. It needs
Debian's python3-cryptography (Ed25519) and python3-protobuf with modules
generated from proto/evenhand/v1 by protoc (python_verifier_test.py makes
them).

  python3 evenhand_verify.py --pb2 DIR BUNDLE [--pubkey PEM]
exits 0 and prints VERIFIED, or exits 1 and prints REJECTED: <why>.
"""

import argparse
import base64
import hashlib
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


class Rejected(Exception):
    pass


def sha256(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.digest()


def b64(data):
    return base64.b64encode(data).decode("ascii")


# ---- RFC 9162 §2.1 ----------------------------------------------------------

def leaf_hash(data):
    return sha256(b"\x00", data)


def node_hash(left, right):
    return sha256(b"\x01", left, right)


def mth(leaves):
    """MTH over leaf hashes (RFC 9162 §2.1.1)."""
    n = len(leaves)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def verify_inclusion(leaf_index, tree_size, leaf, proof, root):
    """RFC 9162 §2.1.3.2."""
    if leaf_index >= tree_size:
        return False
    fn, sn, r = leaf_index, tree_size - 1, leaf
    for p in proof:
        if len(p) != 32 or sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(size1, size2, root1, root2, proof):
    """RFC 9162 §2.1.4.2."""
    if size1 > size2:
        return False
    if size1 == size2:
        return not proof and root1 == root2
    if size1 == 0:
        return not proof
    if not proof:
        return False
    if size1 & (size1 - 1) == 0:  # a power of two: root1 is the first node
        proof = [root1] + list(proof)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == root1 and sr == root2


# ---- the canonical encoding -------------------------------------------------

INT, UINT, BOOL, ENUM, STRING, BYTES, MESSAGE = 1, 2, 3, 4, 5, 6, 7


def tag_of(field):
    from google.protobuf.descriptor import FieldDescriptor as F
    t = field.type
    if t in (F.TYPE_INT32, F.TYPE_INT64, F.TYPE_SINT32, F.TYPE_SINT64, F.TYPE_SFIXED32,
             F.TYPE_SFIXED64):
        return INT
    if t in (F.TYPE_UINT32, F.TYPE_UINT64, F.TYPE_FIXED32, F.TYPE_FIXED64):
        return UINT
    if t == F.TYPE_BOOL:
        return BOOL
    if t == F.TYPE_ENUM:
        return ENUM
    if t == F.TYPE_STRING:
        return STRING
    if t == F.TYPE_BYTES:
        return BYTES
    if t == F.TYPE_MESSAGE:
        if field.message_type.GetOptions().map_entry:
            raise Rejected(f"canonical: map field {field.full_name} is not allowed")
        return MESSAGE
    raise Rejected(f"canonical: field {field.full_name} has a type that is not allowed")


def is_repeated(field):
    return field.label == field.LABEL_REPEATED


def has_presence(field):
    if is_repeated(field):
        return False
    if field.type == field.TYPE_MESSAGE or field.containing_oneof is not None:
        return True
    return getattr(field, "has_presence", False)


def is_set(msg, field):
    if is_repeated(field):
        return len(getattr(msg, field.name)) > 0
    if has_presence(field):
        return msg.HasField(field.name)
    return getattr(msg, field.name) != field.default_value


def encode_value(tag, value):
    if tag in (INT, ENUM):
        return (value & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "big")
    if tag == UINT:
        return value.to_bytes(8, "big")
    if tag == BOOL:
        return b"\x01" if value else b"\x00"
    if tag == STRING:
        data = value.encode("utf-8")
        return len(data).to_bytes(4, "big") + data
    if tag == BYTES:
        return len(value).to_bytes(4, "big") + value
    nested = encode_message(value)
    return len(nested).to_bytes(4, "big") + nested


def encode_message(msg):
    out = b""
    for field in sorted(msg.DESCRIPTOR.fields, key=lambda f: f.number):
        if not is_set(msg, field):
            continue
        tag = tag_of(field)
        out += field.number.to_bytes(4, "big")
        if is_repeated(field):
            values = getattr(msg, field.name)
            out += bytes([tag | 0x80]) + len(values).to_bytes(4, "big")
            for v in values:
                out += encode_value(tag, v)
        else:
            out += bytes([tag]) + encode_value(tag, getattr(msg, field.name))
    return out


class Reader:
    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, n):
        if self.at + n > len(self.data):
            raise Rejected("canonical: truncated")
        out = self.data[self.at:self.at + n]
        self.at += n
        return out

    def u(self, n):
        return int.from_bytes(self.take(n), "big")


def check_range(field, value):
    """A 32-bit field (int32, sint32, sfixed32, enum; uint32, fixed32) holds
    its value in 8 bytes like a 64-bit one; a value outside its range would
    not re-encode to the same bytes, so it is refused (docs/INTEGRITY.md)."""
    if field.cpp_type in (field.CPPTYPE_INT32, field.CPPTYPE_ENUM):
        low, high = -(1 << 31), (1 << 31) - 1
    elif field.cpp_type == field.CPPTYPE_UINT32:
        low, high = 0, (1 << 32) - 1
    else:
        return value
    if not low <= value <= high:
        raise Rejected(f"canonical: field {field.full_name} holds {value}, outside the range "
                       f"{low}..{high} of a 32-bit field (it would not re-encode to the same "
                       f"bytes)")
    return value


def decode_value(reader, tag, field):
    if tag in (INT, ENUM):
        v = reader.u(8)
        return check_range(field, v - (1 << 64) if v >= 1 << 63 else v)
    if tag == UINT:
        return check_range(field, reader.u(8))
    if tag == BOOL:
        v = reader.u(1)
        if v > 1:
            raise Rejected("canonical: a bool that is not 0 or 1")
        return v == 1
    data = reader.take(reader.u(4))
    if tag == STRING:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise Rejected("canonical: a string that is not UTF-8")
    return data  # BYTES


def set_value(msg, field, value):
    try:
        setattr(msg, field.name, value)
    except (ValueError, TypeError) as e:  # whatever protobuf refuses, in our words
        raise Rejected(f"canonical: field {field.full_name} cannot hold {value!r} ({e})")


def append_value(target, value, field):
    try:
        target.append(value)
    except (ValueError, TypeError) as e:
        raise Rejected(f"canonical: field {field.full_name} cannot hold {value!r} ({e})")


def decode_into(data, msg):
    reader = Reader(data)
    last = 0
    while reader.at < len(data):
        number = reader.u(4)
        tag = reader.u(1)
        if number <= last:
            raise Rejected("canonical: fields out of order or repeated")
        last = number
        field = msg.DESCRIPTOR.fields_by_number.get(number)
        if field is None:
            raise Rejected(f"canonical: {msg.DESCRIPTOR.full_name} has no field {number}")
        want = tag_of(field)
        if is_repeated(field):
            if tag != want | 0x80:
                raise Rejected(f"canonical: field {field.full_name} has the wrong tag")
            count = reader.u(4)
            target = getattr(msg, field.name)
            for _ in range(count):
                if want == MESSAGE:
                    item = target.add()
                    n = reader.u(4)
                    decode_into(reader.take(n), item)
                else:
                    append_value(target, decode_value(reader, want, field), field)
        else:
            if tag != want:
                raise Rejected(f"canonical: field {field.full_name} has the wrong tag")
            if want == MESSAGE:
                n = reader.u(4)
                decode_into(reader.take(n), getattr(msg, field.name))
                # An empty nested message must still be present.
                getattr(msg, field.name).SetInParent()
            else:
                set_value(msg, field, decode_value(reader, want, field))
    # One event, one encoding.
    if encode_message(msg) != data:
        raise Rejected("canonical: the bytes are not the canonical encoding of what they hold")


def decode_record(data, recorded_event_class):
    if data[:4] != b"EHR1":
        raise Rejected("canonical: a record does not start with EHR1")
    record = recorded_event_class()
    try:
        decode_into(data[4:], record)
    except Rejected:
        raise
    except Exception as e:  # never anything but Rejected for hostile bytes
        raise Rejected(f"canonical: the record cannot be decoded ({type(e).__name__}: {e})")
    return record


# ---- keys and checkpoints ---------------------------------------------------

SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


def key_id(raw):
    return hashlib.sha256(raw).hexdigest()[:16]


def pem_of(raw):
    return ("-----BEGIN PUBLIC KEY-----\n" + b64(SPKI_PREFIX + raw) +
            "\n-----END PUBLIC KEY-----\n")


def raw_from_pem(pem):
    """The raw key of a PEM file as published (exactly the form above)."""
    lines = pem.strip().splitlines()
    if len(lines) != 3 or lines[0] != "-----BEGIN PUBLIC KEY-----" or \
            lines[2] != "-----END PUBLIC KEY-----":
        raise Rejected("--pubkey: not a PEM public key")
    try:
        der = base64.b64decode(lines[1], validate=True)
    except ValueError:
        raise Rejected("--pubkey: its key is not base64")
    if len(der) != 44 or der[:12] != SPKI_PREFIX:
        raise Rejected("--pubkey: not an Ed25519 public key")
    return der[12:]


def ed25519_ok(raw, message, signature):
    try:
        Ed25519PublicKey.from_public_bytes(raw).verify(signature, message)
        return True
    except (InvalidSignature, ValueError):
        return False


def nanos_of(ts):
    return ts.seconds * 1000000000 + ts.nanos


def checkpoint_body(c):
    if not c.chain_head and not c.stream_map_root:
        return (f"evenhand checkpoint v1\nlog {c.log_id}\nsize {c.tree_size}\n"
                f"root {b64(c.root_hash)}\ntime {nanos_of(c.timestamp)}\n").encode()
    return (f"evenhand checkpoint v2\nlog {c.log_id}\nsize {c.tree_size}\n"
            f"root {b64(c.root_hash)}\nchain {b64(c.chain_head)}\n"
            f"streams {b64(c.stream_map_root)}\ntime {nanos_of(c.timestamp)}\n").encode()


def verify_checkpoint(sc, raw):
    if not ed25519_ok(raw, sc.signed_body, sc.signature):
        raise Rejected("checkpoint: the signature does not verify")
    if sc.signed_body != checkpoint_body(sc.checkpoint):
        raise Rejected("checkpoint: its fields do not say what its signed body says")
    if sc.key_id != key_id(raw):
        raise Rejected("checkpoint: it names a different key id")


# ---- the stream-head map ----------------------------------------------------

EMPTY = bytes(32)


def key_bit(key, depth):
    return (key[depth // 8] >> (7 - depth % 8)) & 1


def entry_hash(key, revision, position):
    return sha256(b"\x00", key, revision.to_bytes(8, "big"), position.to_bytes(8, "big"))


def map_subtree(entries, depth):
    """entries: sorted list of (key, revision, position) sharing depth bits."""
    if not entries:
        return EMPTY
    if len(entries) == 1:
        return entry_hash(*entries[0])
    left = [e for e in entries if not key_bit(e[0], depth)]
    right = [e for e in entries if key_bit(e[0], depth)]
    return node_hash(map_subtree(left, depth + 1), map_subtree(right, depth + 1))


def map_root(heads):
    """heads: {stream id: (revision, position)}."""
    entries = sorted((hashlib.sha256(s.encode()).digest(), r, p) for s, (r, p) in heads.items())
    return map_subtree(entries, 0)


def verify_stream_head(root, stream_id, revision, position, siblings):
    if len(siblings) > 256 or any(len(s) != 32 for s in siblings):
        return False
    if siblings and siblings[-1] == EMPTY:
        return False
    key = hashlib.sha256(stream_id.encode()).digest()
    h = entry_hash(key, revision, position)
    for depth in range(len(siblings) - 1, -1, -1):
        h = node_hash(siblings[depth], h) if key_bit(key, depth) else node_hash(h, siblings[depth])
    return h == root


# ---- bundles ----------------------------------------------------------------

def verify_bundle(data, pb2, trusted_raw=None):
    """Returns a report (dict) or raises Rejected naming the first problem.
    Whatever a hostile file makes the code below raise is reported as
    Rejected too, never as another exception."""
    try:
        return _verify_bundle(data, pb2, trusted_raw)
    except Rejected:
        raise
    except Exception as e:
        raise Rejected(f"bundle: it cannot be checked ({type(e).__name__}: {e})")


def _verify_bundle(data, pb2, trusted_raw):
    audit_pb2, events_pb2 = pb2
    b = audit_pb2.InvestigationBundle()
    try:
        b.ParseFromString(data)
    except Exception:
        raise Rejected("bundle: it cannot be parsed")
    # 1. One encoding, no unknown fields, version 2.
    clean = audit_pb2.InvestigationBundle()
    clean.CopyFrom(b)
    clean.DiscardUnknownFields()
    if clean.SerializeToString(deterministic=True) != data:
        raise Rejected("bundle: its bytes are not the one deterministic encoding of known fields")
    if b.format_version != 2:
        raise Rejected(f"bundle: format version {b.format_version}, not 2")
    # 2. The key.
    k = b.public_key
    if k.algorithm != "Ed25519" or len(k.raw) != 32:
        raise Rejected("public key: not a 32-byte Ed25519 key")
    if k.key_id != key_id(k.raw):
        raise Rejected("public key: its key id does not match it")
    if k.pem != pem_of(k.raw):
        raise Rejected("public key: its PEM form is not exactly the PEM of the key")
    if trusted_raw is not None and trusted_raw != k.raw:
        raise Rejected("public key: not the key you trust")
    # 3. The checkpoint.
    verify_checkpoint(b.checkpoint, k.raw)
    cp = b.checkpoint.checkpoint
    if len(cp.root_hash) != 32 or len(cp.chain_head) != 32 or len(cp.stream_map_root) != 32:
        raise Rejected("checkpoint: not a version 2 checkpoint")
    # 4. The manifest.
    m = b.manifest
    if not ed25519_ok(k.raw, b"evenhand bundle manifest v2\n" + encode_message(m),
                      b.manifest_signature):
        raise Rejected("manifest: its signature does not verify")
    if m.tree_size != cp.tree_size or m.log_id != cp.log_id:
        raise Rejected("manifest: another tree or log than the checkpoint")
    # 5. The events.
    if len(b.events) != len(m.positions):
        raise Rejected(f"bundle: {len(b.events)} events for {len(m.positions)} positions")
    previous = 0
    records = []
    held = {}
    for want, e in zip(m.positions, b.events):
        if want <= previous:
            raise Rejected(f"manifest: position {want} does not ascend")
        previous = want
        record = decode_record(e.canonical, events_pb2.RecordedEvent)
        if record.position != want:
            raise Rejected(f"event at position {want}: its record says {record.position}")
        if want > cp.tree_size:
            raise Rejected(f"event at position {want}: outside the tree")
        if not verify_inclusion(want - 1, cp.tree_size, leaf_hash(e.canonical),
                                list(e.inclusion_proof), cp.root_hash):
            raise Rejected(f"event at position {want}: its inclusion proof fails")
        records.append(record)
        held.setdefault(record.event.stream_id, {})[record.stream_revision] = want
    # 6. The streams.
    streams = {}
    previous_id = None
    for h in b.stream_heads:
        if previous_id is not None and h.stream_id.encode() <= previous_id.encode():
            raise Rejected(f"stream head {h.stream_id}: out of order or repeated")
        previous_id = h.stream_id
        if h.stream_id not in held:
            raise Rejected(f"stream head {h.stream_id}: no event of it in the bundle")
        if not verify_stream_head(cp.stream_map_root, h.stream_id, h.last_revision,
                                  h.last_position, list(h.siblings)):
            raise Rejected(f"stream {h.stream_id}: its head's map proof fails")
        revisions = held[h.stream_id]
        if h.last_position == 0 or h.last_position > cp.tree_size or \
                max(revisions) > h.last_revision:
            raise Rejected(f"stream {h.stream_id}: its head contradicts its events")
        if h.last_revision in revisions and revisions[h.last_revision] != h.last_position:
            raise Rejected(f"stream {h.stream_id}: its last event is not at the head's position")
        streams[h.stream_id] = (len(revisions), h.last_revision + 1)
    for stream in held:
        if stream not in streams:
            raise Rejected(f"stream {stream}: no proof of its head")
    for stream in m.complete_streams:
        if stream not in streams:
            raise Rejected(f"stream {stream}: claimed complete, none of it held")
        got, total = streams[stream]
        if got != total:
            raise Rejected(f"stream {stream}: incomplete: {got} of {total} events")
    # 7. The whole log: chain and map recomputed.
    whole = len(m.positions) > 0 and len(m.positions) == cp.tree_size
    if whole:
        chain = bytes(32)
        heads = {}
        for e, r in zip(b.events, records):
            chain = sha256(chain, e.canonical)
            heads[r.event.stream_id] = (r.stream_revision, r.position)
        if chain != cp.chain_head:
            raise Rejected("checkpoint: the recomputed chain is not the signed chain head")
        if map_root(heads) != cp.stream_map_root:
            raise Rejected("checkpoint: the recomputed map is not the signed map root")
    return {"tree_size": cp.tree_size, "events": len(records), "streams": streams,
            "whole_log": whole, "pinned": trusted_raw is not None}


# ---- signed reports (docs/INTEGRITY.md, "Signed reports") -------------------

REPORT_FIELDS = ["key", "statement", "signature", "checkpoint", "checkpoint-signature",
                 "consistency"]
STATEMENT_NAMES = ["format", "log", "size", "root", "from", "to", "as-of", "rules", "content"]


def strict_b64(text, what):
    try:
        data = base64.b64decode(text, validate=True)
    except ValueError:
        raise Rejected(f"report: {what} is not base64")
    if b64(data) != text:
        raise Rejected(f"report: {what} is not standard padded base64")
    return data


def decimal(text, what):
    if not text.isdigit() or (len(text) > 1 and text[0] == "0"):
        raise Rejected(f"{what}: not a decimal number")
    return int(text)


def parse_text_form(body, first, names, what):
    """Lines "name value" after `first`, each ending in LF: {name: value}."""
    if not body.endswith(b"\n"):
        raise Rejected(f"{what}: does not end with LF")
    lines = body[:-1].decode("utf-8").split("\n")
    if lines[0] != first or len(lines) != len(names) + 1:
        raise Rejected(f"{what}: not a {first!r} text form")
    values = {}
    for name, line in zip(names, lines[1:]):
        if not line.startswith(name + " "):
            raise Rejected(f"{what}: expected a {name} line")
        values[name] = line[len(name) + 1:]
    return values


def report_line(fmt, payload):
    if fmt == "html":
        return "<!-- " + payload + " -->"
    if fmt == "json":
        return ' "signature": {"value": "' + payload + '"},'
    return "# " + payload


def verify_report(data, trusted_raw):
    """Checks a signed report file; returns its statement's values, or
    raises Rejected (never another exception) naming the first problem."""
    try:
        return _verify_report(data, trusted_raw)
    except Rejected:
        raise
    except UnicodeDecodeError:
        raise Rejected("report: it is not UTF-8")
    except Exception as e:
        raise Rejected(f"report: it cannot be checked ({type(e).__name__}: {e})")


def _verify_report(data, trusted_raw):
    text = data.decode("utf-8")
    if not text.endswith("\n"):
        raise Rejected("report: does not end with LF")
    lines = text[:-1].split("\n")
    marker = "evenhand-report-signature v1 "
    # The last line first: a CSV row may start as the HTML line does.
    candidates = [(len(lines) - 1, lines[-1])]
    if len(lines) > 1:
        candidates.append((1, lines[1]))
    found = None
    for index, line in candidates:
        for prefix in ("<!-- ", ' "signature": {"value": "', "# "):
            if line.startswith(prefix + marker):
                found = (index, line, line[len(prefix):])
                break
        if found:
            break
    if not found:
        raise Rejected("report: no signature line")
    index, line, rest = found
    for suffix in (" -->", '"},'):
        if rest.endswith(suffix):
            rest = rest[:-len(suffix)]
    parts = rest[len(marker):].split(" ")
    if len(parts) != len(REPORT_FIELDS):
        raise Rejected("report: the signature line has the wrong number of fields")
    fields = {}
    for name, part in zip(REPORT_FIELDS, parts):
        if not part.startswith(name + "="):
            raise Rejected(f"report: expected {name}=")
        fields[name] = part[len(name) + 1:]
    statement = strict_b64(fields["statement"], "statement")
    st = parse_text_form(statement, "evenhand report v1", STATEMENT_NAMES, "statement")
    fmt = st["format"]
    if fmt not in ("html", "json", "csv-groups", "csv-findings", "csv-access"):
        raise Rejected("report: unknown format")
    # 1. The line is where its format puts it, exactly as that format writes it.
    if index != (1 if fmt in ("html", "json") else len(lines) - 1) or \
            line != report_line(fmt, rest):
        raise Rejected("report: the signature line is not where or as its format writes it")
    # 2. The key, and the statement's signature.
    if fields["key"] != key_id(trusted_raw):
        raise Rejected("report: signed with another key")
    if not ed25519_ok(trusted_raw, statement, strict_b64(fields["signature"], "signature")):
        raise Rejected("report: the statement's signature does not verify")
    # 3. The content.
    content = "\n".join(lines[:index] + lines[index + 1:]) + "\n"
    if b64(sha256(content.encode("utf-8"))) != st["content"]:
        raise Rejected("report: the content was changed after signing")
    # 4. The checkpoint.
    body = strict_b64(fields["checkpoint"], "checkpoint")
    cp = parse_text_form(body, "evenhand checkpoint v2",
                         ["log", "size", "root", "chain", "streams", "time"], "checkpoint")
    if not ed25519_ok(trusted_raw, body,
                      strict_b64(fields["checkpoint-signature"], "checkpoint-signature")):
        raise Rejected("report: the checkpoint's signature does not verify")
    if cp["log"] != st["log"]:
        raise Rejected("report: the checkpoint is another log's")
    # 5. The report's tree is a prefix of the checkpoint's.
    size, cp_size = decimal(st["size"], "size"), decimal(cp["size"], "checkpoint size")
    root, cp_root = strict_b64(st["root"], "root"), strict_b64(cp["root"], "checkpoint root")
    proof = [] if fields["consistency"] == "-" else \
        [strict_b64(h, "consistency proof") for h in fields["consistency"].split(",")]
    if size == 0:
        ok = root == sha256(b"") and not proof
    else:
        ok = verify_consistency(size, cp_size, root, cp_root, proof)
    if not ok:
        raise Rejected("report: what it read is not a prefix of the signed checkpoint")
    return st


def load_pb2(directory):
    sys.path.insert(0, directory)
    from evenhand.v1 import audit_pb2, events_pb2  # noqa: E402
    return audit_pb2, events_pb2


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", help="a bundle, or with --report a signed report file")
    parser.add_argument("--pb2", help="folder of the generated modules (bundles)")
    parser.add_argument("--report", action="store_true", help="the file is a signed report")
    parser.add_argument("--pubkey", help="the council's published public key (PEM)")
    args = parser.parse_args()
    if args.report:
        try:
            with open(args.pubkey) as f:
                trusted = raw_from_pem(f.read())
            with open(args.bundle, "rb") as f:
                st = verify_report(f.read(), trusted)
        except Rejected as e:
            print(f"REJECTED: {e}")
            return 1
        print(f"VERIFIED: report of log {st['log']}, first {st['size']} events")
        return 0
    pb2 = load_pb2(args.pb2)
    try:
        trusted = None
        if args.pubkey:
            with open(args.pubkey) as f:
                trusted = raw_from_pem(f.read())
        with open(args.bundle, "rb") as f:
            report = verify_bundle(f.read(), pb2, trusted)
    except Rejected as e:
        print(f"REJECTED: {e}")
        return 1
    print(f"VERIFIED: {report['events']} events, tree size {report['tree_size']}")
    for stream, (got, total) in sorted(report["streams"].items()):
        state = "complete" if got == total else f"partial: {got} of {total}"
        print(f"  {stream}: {state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
