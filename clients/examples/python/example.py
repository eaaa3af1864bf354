#!/usr/bin/python3
"""Even Hand from Python: a council system's integration, step by step.

  /usr/bin/python3 example.py --server=127.0.0.1:50051 --proto_dir=../../../proto

The same steps as ../node/example.js, with Debian's python3-grpcio,
python3-protobuf and python3-cryptography, and modules generated from the
.proto files at run time (protoc and grpc_python_plugin, Debian's
protobuf-compiler and protobuf-compiler-grpc) into a temporary folder.
Connects in local mode (plain text to a loopback server, as scripts/run
starts it) and, in order: builds a political group, opens a written-query
case and adds to it with an expected revision, retries an append with the
same event ids, reads the stream, subscribes (history, then a live event,
then a resume), asks for the fairness report, proves one event's inclusion
in the Merkle tree, checks a signed checkpoint with the council's Ed25519
key, and reads the structured details of a wrong-expected-revision and an
invalid-field error. One line per step; on any mismatch it says what and
exits 1. The log is append-only: run it against a scratch server.
"""

import argparse
import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

import grpc

RETRIED = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED,
           grpc.StatusCode.ABORTED}


class Mismatch(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise Mismatch(message)


# ---- the generated code --------------------------------------------------------

PROTOS = ["evenhand/v1/events.proto", "evenhand/v1/log.proto", "evenhand/v1/audit.proto",
          "evenhand/v1/fairness.proto", "google/rpc/status.proto",
          "google/rpc/error_details.proto"]


def generate(proto_dir, out_dir):
    """protoc --python_out and --grpc_python_out, then import from out_dir.
    (google/protobuf/*.proto come with protoc.)"""
    subprocess.run(["protoc", f"--proto_path={proto_dir}", f"--python_out={out_dir}",
                    f"--grpc_python_out={out_dir}",
                    "--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin",
                    *[os.path.join(proto_dir, p) for p in PROTOS]], check=True)
    sys.path.insert(0, out_dir)


# ---- structured errors ------------------------------------------------------------

def status_details(err):
    """The google.rpc.Status in the `grpc-status-details-bin` trailer, as
    (status, {type name: decoded detail}); (None, {}) if there is none."""
    from google.rpc import error_details_pb2, status_pb2
    raw = dict(err.trailing_metadata() or ()).get("grpc-status-details-bin")
    if raw is None:
        return None, {}
    status = status_pb2.Status.FromString(raw)
    known = {m.DESCRIPTOR.full_name: m for m in (
        error_details_pb2.ErrorInfo, error_details_pb2.BadRequest,
        error_details_pb2.PreconditionFailure, error_details_pb2.RetryInfo)}
    details = {}
    for any_ in status.details:
        name = any_.TypeName()
        if name in known:  # skip detail types this client does not know
            message = known[name]()
            any_.Unpack(message)
            details[name] = message
    return status, details


def retrying(call, tries=5):
    """Retries what the errors table says may be retried as it is, waiting
    as long as the server's RetryInfo asks (or a second)."""
    for attempt in range(1, tries + 1):
        try:
            return call()
        except grpc.RpcError as err:
            if err.code() not in RETRIED or attempt == tries:
                raise
            retry = status_details(err)[1].get("google.rpc.RetryInfo")
            delay = retry.retry_delay.ToTimedelta().total_seconds() if retry else 1.0
            time.sleep(max(delay, 0.1))


def describe(err):
    return f"{err.code().name}: {err.details()}"


# ---- integrity: docs/INTEGRITY.md ---------------------------------------------------

def sha256(*parts):
    return hashlib.sha256(b"".join(parts)).digest()


def leaf_hash(canonical):
    return sha256(b"\x00", canonical)


def node_hash(left, right):
    return sha256(b"\x01", left, right)


def verify_inclusion(index, size, leaf, path, root):
    """RFC 9162 §2.1.3.2: does `path` lead from leaf `index` to `root`?"""
    fn, sn, r = index, size - 1, leaf
    if fn > sn:
        return False
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def canonical_message(msg):
    """The grammar of docs/INTEGRITY.md: for each set field in field-number
    order, u32 number, u8 tag, value. ListFields() gives exactly the set
    fields (present messages and oneof members, non-default scalars,
    non-empty repeated fields), in field-number order."""
    from google.protobuf.descriptor import FieldDescriptor as F
    tags = {F.TYPE_INT32: 1, F.TYPE_INT64: 1, F.TYPE_SINT32: 1, F.TYPE_SINT64: 1,
            F.TYPE_SFIXED32: 1, F.TYPE_SFIXED64: 1, F.TYPE_UINT32: 2, F.TYPE_UINT64: 2,
            F.TYPE_FIXED32: 2, F.TYPE_FIXED64: 2, F.TYPE_BOOL: 3, F.TYPE_ENUM: 4,
            F.TYPE_STRING: 5, F.TYPE_BYTES: 6, F.TYPE_MESSAGE: 7}

    def value(tag, v):
        if tag in (1, 4):
            return (v & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "big")
        if tag == 2:
            return v.to_bytes(8, "big")
        if tag == 3:
            return b"\x01" if v else b"\x00"
        data = v.encode() if tag == 5 else v if tag == 6 else canonical_message(v)
        return len(data).to_bytes(4, "big") + data

    out = b""
    for field, v in msg.ListFields():
        tag = tags.get(field.type)
        if tag is None or (tag == 7 and field.message_type.GetOptions().map_entry):
            raise Mismatch(f"canonical: {field.full_name} has a type that is not allowed")
        out += field.number.to_bytes(4, "big")
        if field.label == F.LABEL_REPEATED:
            out += bytes([tag | 0x80]) + len(v).to_bytes(4, "big")
            out += b"".join(value(tag, x) for x in v)
        else:
            out += bytes([tag]) + value(tag, v)
    return out


def canonical_record(recorded_event):
    return b"EHR1" + canonical_message(recorded_event)


# RFC 8410: an Ed25519 public key's DER is this prefix and the 32 raw bytes.
SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


def verify_checkpoint(signed, public_key):
    """Checks a SignedCheckpoint with the key; returns what its signed body
    says (the only part to trust): {log, size, root, chain, streams, time}."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    try:
        Ed25519PublicKey.from_public_bytes(public_key.raw).verify(signed.signature,
                                                                  signed.signed_body)
    except InvalidSignature:
        raise Mismatch("the checkpoint signature does not verify with the council's key")
    lines = signed.signed_body.decode().split("\n")
    expect(len(lines) == 8 and lines[0] == "evenhand checkpoint v2" and lines[7] == "",
           f"not a version 2 checkpoint body: {signed.signed_body!r}")
    body = dict(line.split(" ", 1) for line in lines[1:7])
    c = signed.checkpoint
    b64 = lambda data: base64.b64encode(data).decode()  # noqa: E731
    expect(body["log"] == c.log_id and body["size"] == str(c.tree_size) and
           body["root"] == b64(c.root_hash) and body["chain"] == b64(c.chain_head) and
           body["streams"] == b64(c.stream_map_root) and
           body["time"] == str(c.timestamp.seconds * 10**9 + c.timestamp.nanos),
           "the checkpoint's fields do not say what its signed body says")
    return {**body, "size": int(body["size"]), "root": base64.b64decode(body["root"])}


# ---- the steps -------------------------------------------------------------------------

def step(name, text):
    print(f"{name:<12} {text}", flush=True)


def event(**payload):
    """An event envelope; the keyword names the Payload oneof member to set,
    e.g. event(written_query_received=events_pb2.WrittenQueryReceived(...))."""
    e = events_pb2.Event(event_id=str(uuid.uuid4()), source_system="example-python",
                         actor="integration-example", payload=events_pb2.Payload(**payload))
    e.occurred_at.GetCurrentTime()
    return e


def rpc_error(call):
    """The grpc.RpcError `call` raises, or None if it succeeds."""
    try:
        call()
    except grpc.RpcError as err:
        return err
    return None


def run(args):
    channel = grpc.insecure_channel(args.server)  # local mode; TLS: docs/INTEGRATING.md
    log = log_pb2_grpc.EventLogStub(channel)
    audit = audit_pb2_grpc.AuditStub(channel)
    fairness = fairness_pb2_grpc.FairnessStub(channel)
    timeout = 30

    status = log.GetStatus(log_pb2.GetStatusRequest(), timeout=timeout)
    step("status", f"log {status.log_id} at position {status.last_position}, "
                   f"server {status.server_version}")

    tag = uuid.uuid4().hex[:8]
    m1, m2 = f"m-ex-{tag}-1", f"m-ex-{tag}-2"
    officer, group = f"o-ex-{tag}", f"g-ex-{tag}"
    query_id = f"Q-ex-{tag}"
    stream = f"query-{query_id}"

    # 1. A new political group, in the order the server checks references:
    # its councillors, then the group naming them. Each opens its own case.
    setup = [
        (f"member-{m1}", event(member_registered=events_pb2.MemberRegistered(
            member_id=m1, name="Cllr Ada Example", ward="North"))),
        (f"member-{m2}", event(member_registered=events_pb2.MemberRegistered(
            member_id=m2, name="Cllr Ben Example", ward="South"))),
        (f"officer-{officer}", event(officer_registered=events_pb2.OfficerRegistered(
            officer_id=officer, name="Carys Officer", role=events_pb2.HEAD_OF_SERVICE,
            department="Housing"))),
        (f"group-{group}", event(political_group_recognised=events_pb2.PoliticalGroupRecognised(
            group_id=group, name=f"Example Group {tag}", member_ids=[m1, m2],
            leader_member_id=m1))),
    ]
    positions = []
    for stream_id, e in setup:
        reply = log.Append(log_pb2.AppendRequest(stream_id=stream_id,
                                                 expected_state=log_pb2.NO_STREAM, events=[e]),
                           timeout=timeout)
        positions.append(reply.positions[0])
    step("group", f"councillors {m1}, {m2}, officer {officer}, group {group} at positions "
                  f"{', '.join(map(str, positions))}")

    # 2. A case-opening event, then a follow-up expecting revision 0.
    received = event(written_query_received=events_pb2.WrittenQueryReceived(
        query_id=query_id, member_id=m1, addressed_to_officer_id=officer,
        subject="Bin collections in North ward", channel="email"))
    open_request = log_pb2.AppendRequest(stream_id=stream, expected_state=log_pb2.NO_STREAM,
                                         events=[received])
    opened = log.Append(open_request, timeout=timeout)
    expect(opened.stream_revision == 0 and not opened.idempotent_replay,
           f"opening append: expected revision 0, got {opened}")
    acknowledged = event(written_query_acknowledged=events_pb2.WrittenQueryAcknowledged(
        query_id=query_id, officer_id=officer))
    due = int(time.time()) + 5 * 86400
    acknowledged.payload.written_query_acknowledged.reply_due_at.seconds = due
    follow_request = log_pb2.AppendRequest(stream_id=stream, exact_revision=0,
                                           events=[acknowledged])
    followed = log.Append(follow_request, timeout=timeout)
    expect(followed.stream_revision == 1,
           f"follow-up append: expected revision 1, got {followed.stream_revision}")
    step("append", f"{stream}: WrittenQueryReceived at position {opened.positions[0]} "
                   f"(revision 0), WrittenQueryAcknowledged at {followed.positions[0]} "
                   "(revision 1)")

    # 3. A retry after, say, a timeout: the very same request, same event ids.
    retried = log.Append(follow_request, timeout=timeout)
    expect(retried.idempotent_replay and list(retried.positions) == list(followed.positions) and
           retried.stream_revision == followed.stream_revision,
           f"retry: expected the original positions {list(followed.positions)}, got {retried}")
    reopened = log.Append(open_request, timeout=timeout)
    expect(reopened.idempotent_replay and list(reopened.positions) == list(opened.positions),
           f"retry of the opening append: got {reopened}")
    changed = log_pb2.AppendRequest()
    changed.CopyFrom(follow_request)
    changed.events[0].actor = "someone-else"
    reused = rpc_error(lambda: log.Append(changed, timeout=timeout))
    expect(reused is not None and reused.code() == grpc.StatusCode.ALREADY_EXISTS,
           "same event id, different content: expected ALREADY_EXISTS, got "
           f"{describe(reused) if reused else 'OK'}")
    step("retry", f"same ids: idempotent_replay, positions {retried.positions[0]} and "
                  f"{reopened.positions[0]} again; same id, other content: ALREADY_EXISTS")

    # 4. Read the case back.
    events = [e for chunk in log.ReadStream(log_pb2.ReadStreamRequest(stream_id=stream),
                                            timeout=timeout) for e in chunk.events]
    expect(len(events) == 2 and events[0].event.event_id == received.event_id and
           events[1].event.event_id == acknowledged.event_id and
           events[0].event.type == "WrittenQueryReceived" and
           events[0].event.payload.WhichOneof("kind") == "written_query_received" and
           events[0].position == opened.positions[0] and events[1].stream_revision == 1,
           f"read: got {[(e.position, e.event.type) for e in events]}")
    step("read", f"{stream}: " + " ".join(
        f"{e.stream_revision}:{e.event.type}@{e.position}" for e in events))

    # 5. Subscribe from the start (filtered to this case): the two recorded
    # events, caught_up, then a live one; cancel; resume from last + 1.
    seen, live = [], None
    call = log.Subscribe(log_pb2.SubscribeRequest(
        from_position=1, filter=log_pb2.Filter(stream_prefixes=[stream])), timeout=60)
    for message in call:
        seen.extend(message.events.events)
        if message.HasField("caught_up") and live is None:
            expect(len(seen) == 2, f"subscribe: {len(seen)} events before caught_up, expected 2")
            live = event(written_query_timescale_revised=events_pb2.WrittenQueryTimescaleRevised(
                query_id=query_id, officer_id=officer, explanation="Waiting for the contractor"))
            live.payload.written_query_timescale_revised.reply_due_at.seconds = \
                due + 3 * 86400
            log.Append(log_pb2.AppendRequest(stream_id=stream, exact_revision=1, events=[live]),
                       timeout=timeout)
        if live is not None and len(seen) == 3:
            break
    call.cancel()
    expect(len(seen) == 3 and seen[2].event.event_id == live.event_id,
           "subscribe: the live event did not arrive")
    resume_from = seen[-1].position + 1
    call = log.Subscribe(log_pb2.SubscribeRequest(
        from_position=resume_from, filter=log_pb2.Filter(stream_prefixes=[stream])), timeout=60)
    repeated = []
    for message in call:
        repeated.extend(message.events.events)
        if message.HasField("caught_up"):
            break
    call.cancel()
    expect(not repeated, f"resume from {resume_from}: {len(repeated)} events repeated")
    step("subscribe", f"positions {seen[0].position},{seen[1].position} caught up, "
                      f"{seen[2].position} live ({seen[2].event.type}); resumed from "
                      f"{resume_from}: nothing repeated")

    # 6. The standards committee's report (retried while UNAVAILABLE).
    report = retrying(lambda: fairness.GetReport(fairness_pb2.ReportRequest(), timeout=timeout))
    metrics = next((g for g in report.groups if g.group_id == group), None)
    expect(metrics is not None and metrics.councillors == 2 and metrics.queries_received == 1,
           f"report: expected {group} with 2 councillors and 1 query, got {metrics}")
    step("report", f"as of position {report.as_of_position}: groups {len(report.groups)}, "
                   f"findings {len(report.findings)}; {group}: {metrics.councillors} councillors, "
                   f"{metrics.queries_received} query received, "
                   f"{metrics.queries_replied_in_time} replied in time")

    # 7. Inclusion of the event we read, hashed as docs/INTEGRITY.md says.
    target = events[0]
    leaf = leaf_hash(canonical_record(target))
    head = audit.GetTreeHead(audit_pb2.GetTreeHeadRequest(), timeout=timeout)
    proof = audit.GetInclusionProof(audit_pb2.GetInclusionProofRequest(
        position=target.position, tree_size=head.tree_size), timeout=timeout)
    expect(leaf == proof.leaf_hash,
           f"inclusion: our leaf hash {leaf.hex()} is not the server's {proof.leaf_hash.hex()}")
    expect(verify_inclusion(proof.leaf_index, proof.tree_size, leaf, proof.hashes,
                            head.root_hash),
           f"inclusion: the proof for position {target.position} does not lead to the root "
           f"of tree {head.tree_size}")
    step("inclusion", f"position {target.position}: leaf {leaf.hex()[:16]}… is in the tree of "
                      f"{head.tree_size} ({len(proof.hashes)} hashes to root "
                      f"{head.root_hash.hex()[:16]}…)")

    # 8. A signed checkpoint covering the event, checked with the council's
    # key, and the event proven against its signed root. GetCheckpoint of the
    # latest signs one of the tree as it stands if the latest is older; the
    # loop only guards against a server that would not. (A real client pins
    # the council's published key instead of asking for it.)
    key = audit.GetPublicKey(audit_pb2.GetPublicKeyRequest(), timeout=timeout)
    key_id = sha256(key.raw).hex()[:16]
    pem = ("-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(SPKI_PREFIX + key.raw).decode() +
           "\n-----END PUBLIC KEY-----\n")
    expect(key.algorithm == "Ed25519" and len(key.raw) == 32 and key.key_id == key_id and
           key.pem == pem, "the public key's id or PEM is not that of its raw bytes")
    deadline = time.time() + args.checkpoint_wait_seconds
    checkpoint = audit.GetCheckpoint(audit_pb2.GetCheckpointRequest(), timeout=timeout)
    while checkpoint.checkpoint.tree_size < target.position:
        expect(time.time() < deadline, f"no checkpoint covered position {target.position} "
                                       f"within {args.checkpoint_wait_seconds} s")
        time.sleep(0.5)
        checkpoint = audit.GetCheckpoint(audit_pb2.GetCheckpointRequest(), timeout=timeout)
    signed = verify_checkpoint(checkpoint, key)
    expect(checkpoint.key_id == key_id, "the checkpoint names another key")
    signed_proof = audit.GetInclusionProof(audit_pb2.GetInclusionProofRequest(
        position=target.position, tree_size=signed["size"]), timeout=timeout)
    expect(verify_inclusion(signed_proof.leaf_index, signed["size"], leaf, signed_proof.hashes,
                            signed["root"]),
           f"checkpoint: position {target.position} is not in the signed tree of {signed['size']}")
    step("checkpoint", f"size {signed['size']} signed by key {key_id} (Ed25519 verified); "
                       f"position {target.position} proven against its signed root")

    # 9. A wrong expected revision: the case is at revision 2 and we say 1.
    answered = event(written_query_answered=events_pb2.WrittenQueryAnswered(
        query_id=query_id, officer_id=officer))
    wrong = rpc_error(lambda: log.Append(log_pb2.AppendRequest(
        stream_id=stream, exact_revision=1, events=[answered]), timeout=timeout))
    expect(wrong is not None and wrong.code() == grpc.StatusCode.FAILED_PRECONDITION,
           "wrong expected revision: expected FAILED_PRECONDITION, got "
           f"{describe(wrong) if wrong else 'OK'}")
    rich, details = status_details(wrong)
    expect(rich is not None,
           f"wrong expected revision: no grpc-status-details-bin trailer ({describe(wrong)})")
    info = details.get("google.rpc.ErrorInfo")
    expect(info is not None and info.domain == "evenhand.council" and
           info.reason == "WRONG_EXPECTED_REVISION", f"wrong expected revision: ErrorInfo {info}")
    expect(info.metadata.get("stream") == stream and info.metadata.get("expected_revision") == "1"
           and info.metadata.get("actual_revision") == "2",
           f"wrong expected revision: metadata {dict(info.metadata)}, expected actual_revision 2")
    # Re-read, decide again (the answer still stands), append at the
    # revision the server reported.
    tail = [e for chunk in log.ReadStream(log_pb2.ReadStreamRequest(
        stream_id=stream, direction=log_pb2.BACKWARDS, max_count=1), timeout=timeout)
        for e in chunk.events]
    expect(str(tail[0].stream_revision) == info.metadata["actual_revision"],
           "the stream re-read is not at the revision the error reported")
    fixed = log.Append(log_pb2.AppendRequest(
        stream_id=stream, exact_revision=int(info.metadata["actual_revision"]),
        events=[answered]), timeout=timeout)
    step("precondition", f"FAILED_PRECONDITION {info.reason}: expected "
                         f"{info.metadata['expected_revision']}, actual "
                         f"{info.metadata['actual_revision']}; appended at revision "
                         f"{fixed.stream_revision} instead")

    # 10. An invalid field: the BadRequest names it as a path into the request.
    undated = event(written_query_answered=events_pb2.WrittenQueryAnswered(
        query_id=query_id, officer_id=officer))
    undated.ClearField("occurred_at")
    invalid = rpc_error(lambda: log.Append(log_pb2.AppendRequest(
        stream_id=stream, events=[undated]), timeout=timeout))
    expect(invalid is not None and invalid.code() == grpc.StatusCode.INVALID_ARGUMENT,
           "missing occurred_at: expected INVALID_ARGUMENT, got "
           f"{describe(invalid) if invalid else 'OK'}")
    _, details = status_details(invalid)
    info, bad = details.get("google.rpc.ErrorInfo"), details.get("google.rpc.BadRequest")
    expect(info is not None and info.reason == "INVALID_FIELD" and bad is not None and
           bad.field_violations and bad.field_violations[0].field == "events[0].occurred_at",
           "missing occurred_at: expected INVALID_FIELD naming events[0].occurred_at, got "
           f"{details or describe(invalid)}")
    violation = bad.field_violations[0]
    step("invalid", f"INVALID_ARGUMENT {info.reason}: {violation.field}: {violation.description}")

    channel.close()
    print("OK: every step checked")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", default="127.0.0.1:50051")
    parser.add_argument("--proto_dir", required=True, help="the repository's proto/ folder")
    parser.add_argument("--checkpoint_wait_seconds", type=float, default=90)
    args = parser.parse_args()
    out = tempfile.mkdtemp(prefix="evenhand-example-")
    try:
        generate(os.path.abspath(args.proto_dir), out)
        global events_pb2, log_pb2, log_pb2_grpc, audit_pb2, audit_pb2_grpc
        global fairness_pb2, fairness_pb2_grpc
        from evenhand.v1 import (audit_pb2, audit_pb2_grpc, events_pb2, fairness_pb2,
                                 fairness_pb2_grpc, log_pb2, log_pb2_grpc)
        run(args)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"FAILED: generating code from {args.proto_dir} with protoc: {e}", file=sys.stderr)
        sys.exit(1)
    except Mismatch as e:
        print(f"FAILED: {e}", file=sys.stderr)
        sys.exit(1)
    except grpc.RpcError as e:
        print(f"FAILED: {describe(e)}", file=sys.stderr)
        sys.exit(1)
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
