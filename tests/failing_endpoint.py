"""`warmray.infer.answer` as an endpoint whose requests for some rows fail after their tries.

For the stages' row logic around failed requests (set aside, asked again by a retry), without an engine:
it answers every other request with `text`, records the keys it is asked, and returns what `answer` does
(the request's carried columns and the engine's output columns).
"""

from warmray.infer import OUTPUT_COLUMNS
from warmray.infer.failures import REQUEST_FAILED


class FailingEndpoint:
    """Fails the requests whose key is in `down` (with `error`); `asked`: the keys of each call."""

    def __init__(self, down: set[str], text: str = "CORRECT", error: str = "HTTP 500: boom") -> None:
        self.down, self.text, self.error = down, text, error
        self.asked: list[list[str]] = []

    def __call__(self, requests, key, folder, model, engine, sampling, *, label, lora_rank=None):
        self.asked.append(list(requests[key]))
        failed = requests[key].isin(self.down)
        carried = requests.drop(columns=[c for c in ("messages", "adapter") if c in requests])
        return carried.assign(
            generated_text=["" if f else self.text for f in failed],
            num_input_tokens=3,
            num_generated_tokens=[0 if f else 2 for f in failed],
            inference_error=[REQUEST_FAILED + self.error if f else "" for f in failed],
        )[[*carried.columns, *OUTPUT_COLUMNS]]
