"""The Python client against the real tokengated: every RPC of the client, error statuses,
pipelining, deadlines and reconnection. That the daemon (protobuf-c) reads what the official
Python runtime writes, and the other way round, shows the wire format is real protobuf."""

import datetime
import os
import re
import signal
import socket
import struct
import threading
import time

import pytest

from conftest import REPOSITORY
from tokengate import METHOD, Client, StatusCode, TokenGateError, pb

#: 2,062 input tokens at $0.30/M + 201 output tokens at $2.50/M, in nano-USD.
SMALL_EVENT_COST = 1_121_100
DAILY_CAP = 5_000_000_000


def test_health_is_serving(gate):
    assert gate.health().status == pb.SERVING_STATUS_SERVING


def test_can_make_request_allows_a_fresh_shop_with_its_full_budget(gate):
    verdict = gate.can_make_request(shop_id="py_fresh", estimated_input_tokens=2_000, max_output_tokens=500,
                                    request_id="req-1")
    assert verdict.decision == pb.DECISION_ALLOW
    assert verdict.reason == pb.DECISION_REASON_WITHIN_BUDGET
    assert verdict.daily_remaining_nano_usd == DAILY_CAP
    assert verdict.monthly_remaining_nano_usd == 100_000_000_000
    assert verdict.estimated_cost_nano_usd == 1_850_000  # 2,000 × $0.30/M + 500 × $2.50/M
    assert verdict.request_id == "req-1"


def test_request_message_and_keyword_fields_are_the_same_call(gate):
    message = pb.CanMakeRequestRequest(shop_id="py_same", estimated_input_tokens=10, max_output_tokens=10)
    assert gate.can_make_request(message) == gate.can_make_request(shop_id="py_same", estimated_input_tokens=10,
                                                                   max_output_tokens=10)
    assert message.operation_type == "", "the caller's message is not changed"
    with pytest.raises(TypeError):
        gate.can_make_request(message, shop_id="py_same")


def test_reservation_is_held_then_released_once(gate):
    verdict = gate.can_make_request(shop_id="py_hold", estimated_input_tokens=2_000, max_output_tokens=500, reserve=True)
    assert verdict.reservation_id
    assert verdict.reservation_expires_unix_ms > 0
    held = gate.can_make_request(shop_id="py_hold")
    assert held.daily_remaining_nano_usd == DAILY_CAP - 1_850_000, "a hold counts as spent"
    released = gate.release_reservation(reservation_id=verdict.reservation_id)
    assert released.released_nano_usd == 1_850_000
    with pytest.raises(TokenGateError) as error:
        gate.release_reservation(reservation_id=verdict.reservation_id)
    assert error.value.code == StatusCode.FAILED_PRECONDITION
    assert "already released" in error.value.message


def test_log_usage_prices_the_event_and_is_idempotent_by_event_id(gate):
    first = gate.log_usage(event_id="py-evt-1", shop_id="py_log", input_tokens=2_062, output_tokens=201,
                           metadata=pb.UsageMetadata(message_length=120, extra=[pb.MetadataEntry(key="k", value="v")]))
    assert first.cost_nano_usd == SMALL_EVENT_COST
    assert first.daily_total_nano_usd == SMALL_EVENT_COST
    assert not first.duplicate
    again = gate.log_usage(event_id="py-evt-1", shop_id="py_log", input_tokens=2_062, output_tokens=201,
                           metadata=pb.UsageMetadata(message_length=120, extra=[pb.MetadataEntry(key="k", value="v")]))
    assert again.duplicate
    assert again.daily_total_nano_usd == SMALL_EVENT_COST, "the repeat is not counted twice"
    with pytest.raises(TokenGateError) as error:  # the same id with other content (issue 17)
        gate.log_usage(event_id="py-evt-1", shop_id="py_log", input_tokens=2_062, output_tokens=201)
    assert error.value.code == StatusCode.ALREADY_EXISTS
    assert "metadata" in error.value.message


def test_log_usage_gives_an_event_id_before_sending(gate):
    response = gate.log_usage(shop_id="py_id", input_tokens=10, output_tokens=10)
    assert response.event_id.startswith("tgc-")
    assert len(response.event_id) == 40  # tgc- and a UUID4


def test_usage_over_the_cap_denies_with_violations_and_alerts(gate):
    spent = gate.log_usage(shop_id="py_cap", model="gemini-2.5-pro", input_tokens=1_000_000, output_tokens=200_000)
    assert spent.cost_nano_usd == 5_500_000_000  # the >200k prompt rate: $2.50 + $3.00
    assert [v.kind for v in spent.violations] == [pb.LIMIT_KIND_INPUT_TOKENS, pb.LIMIT_KIND_OUTPUT_TOKENS,
                                                  pb.LIMIT_KIND_TOTAL_TOKENS]
    assert pb.ALERT_KIND_DAILY_CAP in [alert.kind for alert in spent.alerts]
    verdict = gate.can_make_request(shop_id="py_cap", estimated_input_tokens=10, max_output_tokens=10)
    assert verdict.decision == pb.DECISION_DENY
    assert verdict.reason == pb.DECISION_REASON_DAILY_CAP_REACHED


def test_apply_optimization_downgrades_near_the_budget(gate):
    fresh = gate.apply_optimization(shop_id="py_opt", model="gemini-2.5-pro", history_length=30, max_output_tokens=400)
    assert not fresh.optimized
    assert fresh.model == "gemini-2.5-pro"
    gate.log_usage(shop_id="py_opt", model="gemini-2.5-pro", input_tokens=1_000_000, output_tokens=100_000)
    near = gate.apply_optimization(shop_id="py_opt", model="gemini-2.5-pro", history_length=30, max_output_tokens=400)
    assert near.optimized
    assert near.model == "gemini-2.5-flash"
    assert near.history_length < 30
    assert near.reasons


def test_generate_billing_stores_a_past_month_once_and_previews_the_open_one(gate):
    now = datetime.datetime.now(datetime.timezone.utc)
    first_of_month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last_month = first_of_month - datetime.timedelta(days=1)
    occurred_ms = int(last_month.replace(hour=12).timestamp() * 1000)
    gate.log_usage(shop_id="py_bill", input_tokens=1_000, output_tokens=100, occurred_at_unix_ms=occurred_ms)
    period = last_month.strftime("%Y-%m")
    stored = gate.generate_billing(shop_id="py_bill", period=period)
    assert stored.newly_stored
    assert stored.record.messages_used == 1
    assert stored.record.tier == "starter"
    assert stored.record.total_charge_nano_usd == 5_000_000_000
    assert not gate.generate_billing(shop_id="py_bill", period=period).newly_stored
    preview = gate.generate_billing(shop_id="py_bill", period=now.strftime("%Y-%m"), preview=True)
    assert preview.record.preview
    with pytest.raises(TokenGateError) as error:
        gate.generate_billing(shop_id="py_bill", period=now.strftime("%Y-%m"))
    assert error.value.code == StatusCode.FAILED_PRECONDITION


@pytest.mark.parametrize("call, code", [
    (lambda gate: gate.can_make_request(shop_id=""), StatusCode.INVALID_ARGUMENT),
    (lambda gate: gate.can_make_request(shop_id="s", model="gpt-imaginary"), StatusCode.NOT_FOUND),
    (lambda gate: gate.generate_billing(shop_id="s", period="2026-13"), StatusCode.INVALID_ARGUMENT),
    (lambda gate: gate.release_reservation(reservation_id="no-such-hold"), StatusCode.NOT_FOUND),
    (lambda gate: gate.call("NoSuchMethod", pb.HealthCheckRequest(), pb.HealthCheckResponse), StatusCode.UNIMPLEMENTED),
])
def test_error_statuses_are_raised_with_their_code_and_the_connection_stays_usable(gate, call, code):
    with pytest.raises(TokenGateError) as error:
        call(gate)
    assert error.value.code == code
    assert error.value.message
    assert gate.health().status == pb.SERVING_STATUS_SERVING


def test_call_many_pipelines_and_matches_answers_by_call_id(gate):
    calls = [("LogUsage", pb.LogUsageRequest(event_id=f"py-pipe-{i}", shop_id="py_pipe", operation_type="chat_message",
                                             model="gemini-2.5-flash", input_tokens=1_000, output_tokens=100),
              pb.LogUsageResponse) for i in range(50)]
    calls.insert(10, ("CanMakeRequest", pb.CanMakeRequestRequest(shop_id=""), pb.CanMakeRequestResponse))
    results = gate.call_many(calls)
    assert isinstance(results[10], TokenGateError) and results[10].code == StatusCode.INVALID_ARGUMENT
    logged = [r for i, r in enumerate(results) if i != 10]
    assert [r.event_id for r in logged] == [f"py-pipe-{i}" for i in range(50)]
    assert all(r.cost_nano_usd == 550_000 and not r.duplicate for r in logged)


def test_nothing_listening_is_unavailable(tmp_path):
    with Client(str(tmp_path / "absent.sock")) as client, pytest.raises(TokenGateError) as error:
        client.health()
    assert error.value.code == StatusCode.UNAVAILABLE


def test_deadline_is_sent_and_enforced_when_the_daemon_never_answers(tmp_path):
    path = str(tmp_path / "silent.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    received = []

    def read_one_frame_and_stay_silent():
        connection, _ = listener.accept()
        with connection:
            header = connection.recv(4, socket.MSG_WAITALL)
            (length,) = struct.unpack(">I", header)
            received.append(pb.RequestFrame.FromString(connection.recv(length, socket.MSG_WAITALL)))
            connection.recv(1)  # until the client gives up and closes

    server = threading.Thread(target=read_one_frame_and_stay_silent, daemon=True)
    server.start()
    started = time.monotonic()
    with Client(path) as client, pytest.raises(TokenGateError) as error:
        client.can_make_request(shop_id="s", timeout=0.2)
    elapsed = time.monotonic() - started
    server.join(timeout=5)
    listener.close()
    assert error.value.code == StatusCode.DEADLINE_EXCEEDED
    assert 0.2 <= elapsed < 5, "the client's own deadline ends the call"
    assert received[0].deadline_ms == 200
    assert received[0].method == METHOD["CanMakeRequest"]
    assert pb.CanMakeRequestRequest.FromString(received[0].payload).shop_id == "s"


def test_a_call_after_the_daemon_restarted_reconnects(own_daemon):
    with Client(own_daemon.socket_path) as client:
        first = client.log_usage(event_id="py-restart-1", shop_id="py_restart", input_tokens=2_062, output_tokens=201)
        own_daemon.stop(signal.SIGKILL)
        with pytest.raises(TokenGateError) as error:
            client.health()
        assert error.value.code == StatusCode.UNAVAILABLE
        own_daemon.start()
        again = client.log_usage(event_id="py-restart-1", shop_id="py_restart", input_tokens=2_062, output_tokens=201)
        assert again.duplicate, "the acknowledged event survived the kill"
        assert again.cost_nano_usd == first.cost_nano_usd


@pytest.mark.parametrize("readme", ["README.md"])  # clients/python/README.md: test_clients.py
def test_the_readme_examples_run(daemon, capsys, readme):
    text = open(os.path.join(REPOSITORY, readme), encoding="utf-8").read()
    example = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    assert "/tmp/tokengate.sock" in example
    exec(compile(example.replace("/tmp/tokengate.sock", daemon.socket_path), readme, "exec"), {})
    printed = capsys.readouterr().out.split()
    if readme == "README.md":
        event_id, cost = printed
        assert event_id.startswith("tgc-")  # the client made the event id
        assert int(cost) == SMALL_EVENT_COST
