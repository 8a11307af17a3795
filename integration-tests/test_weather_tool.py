"""The get_weather tool: tool_call, tool_result with the simulated data, answer built from it."""
import mockllm
from wsclient import WsClient, run


def check_result_matches(call: dict, result: dict):
    assert result["call_id"] == call["call_id"]
    assert result["name"] == "get_weather"
    content = result["content"]
    assert isinstance(content, dict), f"tool_result content is not a JSON object: {result}"
    tkey, temp = mockllm.pick(content, mockllm.TEMP_KEYS)
    ckey, cond = mockllm.pick(content, mockllm.COND_KEYS)
    assert tkey and isinstance(temp, (int, float)), f"no temperature in {content}"
    assert ckey and isinstance(cond, str) and cond, f"no condition in {content}"
    return temp, cond


def test_weather_question_calls_the_tool(stack):
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/weather_user")) as c:
            t = await c.turn("What's the weather like in Paris today?")
            assert t.finish_reason == "stop", t.frames
            calls, results = t.of_type("tool_call"), t.of_type("tool_result")
            assert len(calls) == 1 and len(results) == 1, t.frames
            call = calls[0]
            assert call["name"] == "get_weather"
            assert isinstance(call["call_id"], str) and call["call_id"]
            args = call["arguments"]
            assert isinstance(args, dict), f"arguments is not a JSON object: {call}"
            assert "Paris" in args.get("location", ""), args
            temp, cond = check_result_matches(call, results[0])
            assert "Paris" in results[0]["content"].get("location", ""), results[0]

            # Order: the call, then its result, then the answer's tokens, then done.
            types = [f["type"] for f in t.frames]
            assert types.index("tool_call") < types.index("tool_result") < types.index("token")
            assert types[-1] == "done"
            text = t.text
            assert "Paris" in text, text
            assert mockllm.scalar_text(temp) in text, (temp, text)
            assert cond in text, (cond, text)
    run(body())


def test_two_cities_two_calls(stack):
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/weather_user")) as c:
            t = await c.turn("What is the weather in Paris and London?")
            assert t.finish_reason == "stop", t.frames
            calls, results = t.of_type("tool_call"), t.of_type("tool_result")
            assert len(calls) == 2, t.frames
            assert len(results) == 2, t.frames
            assert len({x["call_id"] for x in calls}) == 2
            locs = [x["arguments"]["location"] for x in calls]
            assert any("Paris" in s for s in locs) and any("London" in s for s in locs), locs
            by_id = {r["call_id"]: r for r in results}
            text = t.text
            for call in calls:
                assert call["call_id"] in by_id, (call, results)
                temp, cond = check_result_matches(call, by_id[call["call_id"]])
                assert mockllm.scalar_text(temp) in text and cond in text, (temp, cond, text)
            assert "Paris" in text and "London" in text, text
    run(body())


def test_fahrenheit_unit_is_passed(stack):
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/weather_user")) as c:
            t = await c.turn("What's the temperature in Oslo in fahrenheit?")
            calls = t.of_type("tool_call")
            assert len(calls) == 1, t.frames
            assert calls[0]["arguments"].get("unit") == "fahrenheit", calls[0]
            assert "Oslo" in calls[0]["arguments"]["location"]
            assert t.finish_reason == "stop"
    run(body())


def test_simulated_weather_is_deterministic_per_city(stack):
    async def body():
        contents = []
        for user in ("weather_a", "weather_b"):
            async with await WsClient.open(stack.ws_url(f"/ws/session/{user}")) as c:
                t = await c.turn("How is the weather in Madrid?")
                res = t.of_type("tool_result")
                assert len(res) == 1, t.frames
                contents.append(res[0]["content"])
        assert contents[0] == contents[1]
    run(body())


def test_chat_after_tool_turn_keeps_context(stack):
    async def body():
        async with await WsClient.open(stack.ws_url("/ws/session/weather_user")) as c:
            q = "What's the weather in Rome?"
            t1 = await c.turn(q)
            assert t1.of_type("tool_call") and t1.finish_reason == "stop"
            t2 = await c.turn("thanks a lot")
            assert t2.finish_reason == "stop"
            assert not t2.of_type("tool_call")
            assert f'Earlier you said: "{q}"' in t2.text, t2.text
    run(body())
