"""Both Python clients (blocking and asyncio) against the real tokengated: a method for every
RPC, pipelining on one connection, the fail-open/closed gate policy, the on-disk spool (and a
daemon restarted under load with 0 events lost and 0 counted twice), the typed stubs, and the
daemon's HTTP /metrics endpoint read by curl and the reference Prometheus parser."""

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

import tokengate.aio
from conftest import Daemon
from tokengate import METHODS, Client, GatePolicy, StatusCode, TokenGateError, default_socket_path, pb
from tokengate._spool import MAGIC, UsageSpool, crc32c, record

PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(tokengate.__file__)))


def this_month() -> str:
    return time.strftime("%Y-%m", time.gmtime())


def messages_of(client: Client, shop_id: str) -> int:
    summary = client.get_monthly_summary(period=this_month(), shop_id=shop_id)
    return sum(shop.messages for shop in summary.shops if shop.shop_id == shop_id)


# -- A method for every RPC ------------------------------------------------------------------

def test_every_rpc_of_the_service_has_a_method_in_both_clients_and_in_their_stubs():
    service = pb.DESCRIPTOR.services_by_name["BudgetService"]
    assert len(METHODS) == len(service.methods) >= 31
    stubs = {name: open(os.path.join(PACKAGE, "tokengate", name), encoding="utf-8").read()
             for name in ("client.pyi", "aio.pyi")}
    for method in service.methods:
        rpc = METHODS[method.name]
        assert callable(getattr(Client, rpc.attribute)), rpc.attribute
        assert callable(getattr(tokengate.aio.Client, rpc.attribute)), rpc.attribute
        for stub in stubs.values():
            assert f"def {rpc.attribute}(self, request: Optional[pb.{method.input_type.name}]" in stub
    assert METHODS["ExportUsageCsv"].attribute == "export_usage_csv"
    assert METHODS["GetShopView"].attribute == "get_shop_view"
    assert METHODS["WatchAlerts"].server_streaming and not METHODS["LogUsage"].server_streaming


def test_every_unary_rpc_reaches_the_daemon_from_the_blocking_client(gate):
    for rpc in METHODS.values():
        if rpc.server_streaming:
            continue
        try:
            answer = getattr(gate, rpc.attribute)(timeout=5)
            assert isinstance(answer, rpc.response_type)
        except TokenGateError as error:  # an empty request is often invalid: any status but "no such method"
            assert error.code != StatusCode.UNIMPLEMENTED, rpc.name
            assert error.code != StatusCode.INTERNAL, (rpc.name, error)


def test_every_unary_rpc_reaches_the_daemon_from_the_asyncio_client(daemon):
    async def main():
        async with tokengate.aio.Client(daemon.socket_path) as gate:
            for rpc in METHODS.values():
                if rpc.server_streaming:
                    continue
                try:
                    assert isinstance(await getattr(gate, rpc.attribute)(timeout=5), rpc.response_type)
                except TokenGateError as error:
                    assert error.code not in (StatusCode.UNIMPLEMENTED, StatusCode.INTERNAL), (rpc.name, error)
    asyncio.run(main())


def test_server_streams_are_iterators_and_async_iterators(daemon):
    shop = "py_stream"
    with Client(daemon.socket_path) as gate:
        for i in range(3):
            gate.log_usage(shop_id=shop, input_tokens=100 + i, output_tokens=10)
        csv = b"".join(chunk.data for chunk in gate.export_usage_csv(filter=pb.UsageFilter(shop_id=shop)))
        assert csv.count(b"\n") == 4, csv  # header + 3 rows
        first = next(iter(gate.watch_health()))
        assert first.status == pb.SERVING_STATUS_SERVING

    async def main():
        async with tokengate.aio.Client(daemon.socket_path) as gate:
            chunks = [chunk async for chunk in gate.export_usage_csv(filter=pb.UsageFilter(shop_id=shop))]
            assert sum(chunk.rows for chunk in chunks) == 3
            async for health in gate.watch_health():
                assert health.status == pb.SERVING_STATUS_SERVING
                break
            with pytest.raises(TokenGateError) as error:
                async for _ in gate.watch_alerts(shop_id="py_stream_quiet", timeout=0.3):
                    pass
            assert error.value.code == StatusCode.DEADLINE_EXCEEDED
            assert (await gate.health()).status == pb.SERVING_STATUS_SERVING, "the connection stays usable"
    asyncio.run(main())


# -- Pipelining --------------------------------------------------------------------------------

def test_blocking_calls_from_many_threads_are_pipelined_on_one_connection(gate):
    threads, per_thread = 16, 40
    errors = []

    def worker(index):
        try:
            for i in range(per_thread):
                response = gate.log_usage(event_id=f"py-thread-{index}-{i}", shop_id="py_threads", input_tokens=1,
                                          output_tokens=1)
                assert response.event_id == f"py-thread-{index}-{i}" and not response.duplicate
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    assert not errors, errors[:3]
    assert gate.metrics().connections_made == 1
    assert messages_of(gate, "py_threads") == threads * per_thread


def test_asyncio_calls_are_pipelined_on_one_connection(daemon):
    async def main():
        async with tokengate.aio.Client(daemon.socket_path) as gate:
            responses = await asyncio.gather(*[
                gate.log_usage(event_id=f"py-aio-{i}", shop_id="py_aio", input_tokens=1, output_tokens=1)
                for i in range(500)])
            assert [r.event_id for r in responses] == [f"py-aio-{i}" for i in range(500)]
            assert gate.metrics().connections_made == 1
            results = await gate.call_many([("CanMakeRequest", pb.CanMakeRequestRequest(shop_id=""), None),
                                            ("Health", pb.HealthCheckRequest(), None)])
            assert isinstance(results[0], TokenGateError) and results[0].code == StatusCode.INVALID_ARGUMENT
            assert results[1].status == pb.SERVING_STATUS_SERVING
            assert (await gate.log_usage(shop_id="py_aio", input_tokens=1, output_tokens=1)).event_id.startswith("tgc-")
            unnamed = pb.LogUsageRequest(shop_id="py_aio", operation_type="chat_message", model="gemini-2.5-flash",
                                         input_tokens=1, output_tokens=1)
            named = await gate.call("LogUsage", unnamed)
            assert named.event_id.startswith("tgc-") and not unnamed.event_id, "even the generic call names the event"
        with Client(daemon.socket_path) as blocking:
            assert messages_of(blocking, "py_aio") == 502
    asyncio.run(main())


# -- The gate policy -----------------------------------------------------------------------------

def silent_socket(path):
    """A socket that accepts and reads but never answers."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(8)
    keep = []

    def accept():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            keep.append(connection)
    threading.Thread(target=accept, daemon=True).start()
    return listener


@pytest.mark.parametrize("policy, decision", [(GatePolicy.fail_open(0.2), pb.DECISION_ALLOW),
                                              (GatePolicy.fail_closed(0.2), pb.DECISION_DENY)])
def test_unreachable_daemon_is_answered_by_the_policy_within_its_timeout_and_counted(tmp_path, policy, decision):
    listener = silent_socket(str(tmp_path / "silent.sock"))
    try:
        for path in (str(tmp_path / "absent.sock"), str(tmp_path / "silent.sock")):
            with Client(path, when_unreachable=policy) as gate:
                started = time.monotonic()
                verdict = gate.can_make_request(shop_id="s", request_id="r-1")
                assert time.monotonic() - started < 1.0
                assert verdict.decision == decision and verdict.request_id == "r-1"
                assert "policy" in verdict.message
                counted = gate.metrics()
                assert (counted.fail_open_total, counted.fail_closed_total) == ((1, 0) if policy.allow else (0, 1))
                with pytest.raises(TokenGateError) as error:
                    gate.health(timeout=0.1)  # only the gate has a policy
                assert error.value.means_unreachable

            async def main():
                async with tokengate.aio.Client(path, when_unreachable=policy) as gate:
                    verdict = await gate.can_make_request(shop_id="s")
                    assert verdict.decision == decision
                    assert gate.metrics().fail_open_total + gate.metrics().fail_closed_total == 1
            asyncio.run(main())
    finally:
        listener.close()


def test_a_refusal_by_the_daemon_is_raised_even_with_a_policy(gate, daemon):
    with Client(daemon.socket_path, when_unreachable=GatePolicy.fail_open()) as client:
        with pytest.raises(TokenGateError) as error:
            client.can_make_request(shop_id="")
        assert error.value.code == StatusCode.INVALID_ARGUMENT
        assert client.metrics().fail_open_total == 0


def test_policy_counters_reach_the_daemon_metrics(daemon, tmp_path):
    async def main():
        async with tokengate.aio.Client(str(tmp_path / "absent.sock"), when_unreachable=GatePolicy.fail_closed()) as gate:
            await gate.can_make_request(shop_id="s")
            gate.socket_path = daemon.socket_path  # the daemon is back
            await gate.report_metrics("py-aio-reporter")
    asyncio.run(main())
    with Client(str(tmp_path / "absent.sock"), when_unreachable=GatePolicy.fail_open()) as gate:
        gate.can_make_request(shop_id="s")
        gate.can_make_request(shop_id="s")
        gate.socket_path = daemon.socket_path
        gate.report_metrics("py-reporter")
        text = gate.get_metrics().text
    assert 'tokengate_client_fail_open_total{client="py-reporter"} 2' in text
    assert 'tokengate_client_fail_closed_total{client="py-aio-reporter"} 1' in text


# -- The spool ------------------------------------------------------------------------------------

def test_crc32c_matches_the_swift_spool():
    assert crc32c(b"123456789") == 0xE3069283


def test_spool_keeps_events_across_clients_and_sends_each_once(tmp_path):
    spool_dir = str(tmp_path / "spool")
    with tempfile_daemon(tmp_path) as daemon:
        daemon.stop()
        with Client(daemon.socket_path, timeout=0.3, spool_dir=spool_dir) as gate:
            outcomes = [gate.log_usage_or_spool(shop_id="py_spool", input_tokens=10, output_tokens=1) for _ in range(3)]
            assert all(o.spooled and o.event_id.startswith("tgc-") for o in outcomes)
            assert outcomes[-1].spool_depth == 3 and outcomes[0].cause.means_unreachable
            with pytest.raises(TokenGateError) as error:
                Client(daemon.socket_path, spool_dir=spool_dir)
            assert error.value.code == StatusCode.INTERNAL and "another client" in error.value.message
        assert os.path.getsize(os.path.join(spool_dir, "usage.spool")) > len(MAGIC)
        daemon.start()
        with Client(daemon.socket_path, spool_dir=spool_dir) as gate:
            assert gate.flush_spool(timeout=10) == 0
            assert gate.metrics().resent_total == 3
            assert messages_of(gate, "py_spool") == 3
        assert os.path.getsize(os.path.join(spool_dir, "usage.spool")) == len(MAGIC)


def test_spool_is_bounded_and_never_drops_silently(tmp_path):
    spool = UsageSpool(events_max=2, bytes_max=1 << 20, directory=None)
    for i in range(2):
        spool.add(pb.LogUsageRequest(event_id=f"e{i}", shop_id="s"))
    assert spool.add(pb.LogUsageRequest(event_id="e1", shop_id="s")) == 2, "an id already waiting is kept once"
    with pytest.raises(TokenGateError) as error:
        spool.add(pb.LogUsageRequest(event_id="e2", shop_id="s"))
    assert error.value.code == StatusCode.RESOURCE_EXHAUSTED and "NOT recorded" in error.value.message


def test_spool_file_cuts_a_torn_tail_and_refuses_damage_in_the_middle(tmp_path):
    folder = str(tmp_path / "spool")
    first = UsageSpool(10, 1 << 20, folder)
    first.add(pb.LogUsageRequest(event_id="a", shop_id="s"))
    first.add(pb.LogUsageRequest(event_id="b", shop_id="s"))
    first.remove("a")
    first.close()
    path = os.path.join(folder, "usage.spool")
    whole = open(path, "rb").read()
    with open(path, "ab") as out:
        out.write(record(1, pb.LogUsageRequest(event_id="c", shop_id="s").SerializeToString())[:-3])  # torn
    reopened = UsageSpool(10, 1 << 20, folder)
    assert [e.event_id for e in reopened.oldest(10)] == ["b"]
    reopened.close()
    damaged = bytearray(whole)
    damaged[len(MAGIC) + 9] ^= 0xFF
    open(path, "wb").write(bytes(damaged))
    with pytest.raises(TokenGateError) as error:
        UsageSpool(10, 1 << 20, folder)
    assert error.value.code == StatusCode.DATA_LOSS and "offset" in error.value.message


CRASHING_WRITER = """
import sys
from tokengate import Client
gate = Client(sys.argv[1], timeout=0.2, spool_dir=sys.argv[2])
for i in range(1000000):
    outcome = gate.log_usage_or_spool(event_id=f"py-crash-{i}", shop_id="py_crash", input_tokens=1, output_tokens=1)
    assert outcome.spooled
    print(outcome.event_id, flush=True)
"""


def test_spooled_events_survive_a_sigkill_of_the_writer(tmp_path):
    """Every event log_usage_or_spool returned as spooled is in the file when the process dies."""
    with tempfile_daemon(tmp_path) as daemon:
        daemon.stop()
        spool_dir = str(tmp_path / "spool")
        writer = subprocess.Popen([sys.executable, "-c", CRASHING_WRITER, daemon.socket_path, spool_dir],
                                  stdout=subprocess.PIPE, text=True, cwd=PACKAGE, env=dict(os.environ, PYTHONPATH=PACKAGE))
        acknowledged = [writer.stdout.readline().strip() for _ in range(40)]
        writer.kill()
        acknowledged += [line.strip() for line in writer.stdout.read().splitlines()]  # printed before the kill
        writer.wait()
        assert acknowledged[0] == "py-crash-0" and len(acknowledged) >= 40
        daemon.start()
        with Client(daemon.socket_path, spool_dir=spool_dir) as gate:
            assert gate.flush_spool(timeout=20) == 0
            recorded = messages_of(gate, "py_crash")
        # The writer may have spooled one more event after its last line: never fewer.
        assert len(acknowledged) <= recorded <= len(acknowledged) + 1


class tempfile_daemon:
    """A daemon of its own in a folder under tmp_path (for tests that stop and start it)."""

    def __init__(self, tmp_path, extra_arguments=()):
        folder = tmp_path / "daemon"
        folder.mkdir()
        self.daemon = Daemon(str(folder), extra_arguments)

    def __enter__(self):
        self.daemon.start()
        return self.daemon

    def __exit__(self, *exc_info):
        self.daemon.stop(signal.SIGKILL)


def test_daemon_restarted_under_load_loses_no_event_and_counts_none_twice(tmp_path):
    """Writers keep logging through log_usage_or_spool while the daemon is killed (SIGKILL) and
    stopped (SIGTERM) and started again; afterwards the daemon holds each event exactly once."""
    shop = "py_restart_load"
    with tempfile_daemon(tmp_path) as daemon:
        sent = []
        spooled = []
        stop = threading.Event()
        errors = []
        with Client(daemon.socket_path, timeout=0.5, spool_dir=str(tmp_path / "spool")) as gate:
            def writer(index):
                i = 0
                try:
                    while not stop.is_set():
                        outcome = gate.log_usage_or_spool(event_id=f"py-load-{index}-{i}", shop_id=shop,
                                                          input_tokens=1, output_tokens=1)
                        sent.append(outcome.event_id)
                        if outcome.spooled:
                            spooled.append(outcome.event_id)
                        i += 1
                except BaseException as error:  # noqa: BLE001 - reported below
                    errors.append(error)

            workers = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
            for thread in workers:
                thread.start()
            for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGKILL):
                time.sleep(0.4)
                daemon.stop(sig)
                time.sleep(0.3)
                daemon.start()
            time.sleep(0.3)
            stop.set()
            for thread in workers:
                thread.join()
            assert not errors, errors[:3]
            assert gate.flush_spool(timeout=30) == 0
            recorded = messages_of(gate, shop)
            counters = gate.metrics()
        print(f"restart under load: {len(sent)} events sent, {len(spooled)} spooled, "
              f"{counters.resent_total} re-sent ({counters.resent_duplicate_total} answered as duplicates), "
              f"{recorded} recorded")
        assert len(set(sent)) == len(sent)
        assert spooled, "the restarts happened under load (some events had to be spooled)"
        assert recorded == len(sent), f"lost or doubled: {len(sent)} sent, {recorded} recorded"


def test_asyncio_spool_rides_out_a_restart(tmp_path):
    shop = "py_aio_restart"
    with tempfile_daemon(tmp_path) as daemon:
        async def main():
            async with tokengate.aio.Client(daemon.socket_path, timeout=0.5, spool_dir=str(tmp_path / "spool")) as gate:
                first = await asyncio.gather(*[gate.log_usage_or_spool(shop_id=shop, input_tokens=1, output_tokens=1)
                                               for _ in range(50)])
                daemon.stop(signal.SIGKILL)
                second = await asyncio.gather(*[gate.log_usage_or_spool(shop_id=shop, input_tokens=1, output_tokens=1)
                                                for _ in range(50)])
                assert all(outcome.spooled for outcome in second)
                await asyncio.get_running_loop().run_in_executor(None, daemon.start)
                assert await gate.flush_spool(timeout=20) == 0
                assert not any(outcome.spooled for outcome in first)
        asyncio.run(main())
        with Client(daemon.socket_path) as gate:
            assert messages_of(gate, shop) == 100


# -- Defaults and types --------------------------------------------------------------------------

def test_default_socket_path_follows_the_daemon_rule(monkeypatch):
    monkeypatch.setenv("TOKENGATE_SOCKET", "/x/y.sock")
    assert default_socket_path() == "/x/y.sock"
    monkeypatch.setenv("TOKENGATE_SOCKET", "")
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/4242")
    expected = "/run/tokengate/tokengate.sock" if os.geteuid() == 0 else "/run/user/4242/tokengate/tokengate.sock"
    assert default_socket_path() == expected


TYPED_SAMPLE = '''
import asyncio
from tokengate import Client, GatePolicy, pb
import tokengate.aio

def blocking(gate: Client) -> int:
    verdict: pb.CanMakeRequestResponse = gate.can_make_request(shop_id="s")
    chunks = [c.rows for c in gate.export_usage_csv(filter=pb.UsageFilter(shop_id="s"))]
    return int(verdict.daily_remaining_nano_usd) + sum(chunks)

async def concurrent(gate: tokengate.aio.Client) -> str:
    usage: pb.LogUsageResponse = await gate.log_usage(shop_id="s", input_tokens=1)
    async for alert in gate.watch_alerts():
        return alert.shop_id
    return usage.event_id

reveal_type(Client().health())
'''


def test_the_typed_stubs_check_with_mypy(tmp_path):
    pytest.importorskip("mypy")
    good = tmp_path / "good.py"
    good.write_text(TYPED_SAMPLE)
    bad = tmp_path / "bad.py"
    bad.write_text(TYPED_SAMPLE + "\ndef wrong(gate: Client) -> None:\n    gate.health(timeout='soon')\n")
    env = dict(os.environ, MYPYPATH=PACKAGE)
    run = [sys.executable, "-m", "mypy", "--follow-imports=silent", "--ignore-missing-imports", "--disallow-untyped-defs", "--no-incremental", "--cache-dir", str(tmp_path / "cache")]
    ok = subprocess.run(run + [str(good)], capture_output=True, text=True, env=env, cwd=PACKAGE)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # Without the stubs mypy would know no export_usage_csv and type health() as Any.
    assert 'Revealed type is "tokengate.v1.tokengate_pb2.HealthCheckResponse"' in ok.stdout, ok.stdout
    package = subprocess.run(run + ["tokengate"], capture_output=True, text=True, env=env, cwd=PACKAGE)
    assert package.returncode == 0, package.stdout + package.stderr
    failed = subprocess.run(run + [str(bad)], capture_output=True, text=True, env=env, cwd=PACKAGE)
    assert failed.returncode == 1 and '"health" of "Client" has incompatible type "str"' in failed.stdout, failed.stdout


# -- The daemon's HTTP /metrics ------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_http_metrics_endpoint_serves_prometheus_text_to_curl(tmp_path):
    from prometheus_client.parser import text_string_to_metric_families
    curl = shutil.which("curl")
    assert curl, "curl is missing: scripts/ensure-deps.sh installs it"
    port = free_port()
    with tempfile_daemon(tmp_path, ["--metrics-listen", f"127.0.0.1:{port}"]) as daemon:
        with Client(daemon.socket_path) as gate:
            gate.log_usage(shop_id="py_http", input_tokens=2_062, output_tokens=201)
            gate.can_make_request(shop_id="py_http")
        url = f"http://127.0.0.1:{port}/metrics"
        scraped = subprocess.run([curl, "-sS", "--fail", "-D", str(tmp_path / "headers"), url], capture_output=True,
                                 text=True, timeout=30)
        assert scraped.returncode == 0, scraped.stderr
        headers = open(tmp_path / "headers").read()
        assert headers.startswith("HTTP/1.1 200 OK")
        assert "Content-Type: text/plain; version=0.0.4; charset=utf-8" in headers
        families = {family.name: family for family in text_string_to_metric_families(scraped.stdout)}
        assert families["tokengate_serving"].samples[0].value == 1
        logged = [s for s in families["tokengate_calls"].samples
                  if s.labels.get("method") == "LogUsage" and s.labels.get("code") == "OK"]
        assert logged and logged[0].value >= 1
        assert families["tokengate_call_duration_seconds"].type == "histogram"
        assert any(s.labels.get("shop") == "py_http" for s in families["tokengate_shop_cost_today_nano_usd"].samples)
        for path, method, status in (("/", "GET", 404), ("/metrics", "POST", 405), ("/metrics/x", "GET", 404)):
            with pytest.raises(urllib.error.HTTPError) as error:
                urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                                              data=b"" if method == "POST" else None), timeout=10)
            assert error.value.code == status
        with urllib.request.urlopen(url, timeout=10) as again:
            assert again.status == 200


# -- The package README ---------------------------------------------------------------------------

def test_the_package_readme_runs_the_seed_call_sites_blocking_and_asyncio(tmp_path):
    """Every python block of clients/python/README.md, run in order against a real daemon; then
    the two chat handlers it defines, with a stand-in for the model call."""
    import collections
    import re
    text = open(os.path.join(PACKAGE, "README.md"), encoding="utf-8").read()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 3
    Reply = collections.namedtuple("Reply", "text input_tokens output_tokens")
    models = []

    def call_model(model, history, message, max_output):
        models.append(model)
        return Reply("Hello!", 2_062, 201)

    async def call_model_async(model, history, message, max_output):
        return call_model(model, history, message, max_output)

    with tempfile_daemon(tmp_path) as daemon:
        namespace = {}
        for index, block in enumerate(blocks):
            code = block.replace("/tmp/tokengate.sock", daemon.socket_path).replace("/var/lib/chat-worker/",
                                                                                    str(tmp_path) + "/")
            exec(compile(code, f"clients/python/README.md block {index + 1}", "exec"), namespace)
        answer = namespace["handle_chat"]("readme_shop", "u1", "c1", "Where is my order?", ["hi"] * 40, call_model)
        assert answer == {"text": "Hello!", "order_id": None}

        async def run_async():
            try:
                return await namespace["handle_chat_async"]("readme_shop", "u1", "c2", "And now?", [], call_model_async)
            finally:
                await namespace["async_gate"].close()
        assert asyncio.run(run_async())["text"] == "Hello!"
        gate = namespace["gate"]
        assert messages_of(gate, "readme_shop") == 2  # one per handler
        assert messages_of(gate, "shop_1") == 1  # the first block's log_usage
        assert gate.get_shop_view(shop_id="readme_shop").shop_id == "readme_shop"
        gate.close()
        assert models == ["gemini-2.5-flash", "gemini-2.5-flash"]
