"""Conversation memory for multi-turn use: key conclusions plus the latest turns, in a bounded
token budget.

    memory = ConversationMemory(counter, budget_tokens=1024)
    messages = memory.messages(system="...") + [{"role": "user", "content": question}]
    ...  # ask the model
    memory.add_turn(question, answer)
    memory.remember("The contract ends on 2027-03-31.")   # a conclusion worth keeping

When over budget the oldest turns go first, then the oldest conclusions; conclusions that are
dropped can be folded into one note by `condense` (e.g. a model call) instead of being lost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..serving.tokens import TokenCounter


@dataclass(slots=True)
class _Item:
    text: str
    tokens: int


class ConversationMemory:
    def __init__(
        self,
        counter: TokenCounter,
        budget_tokens: int = 1024,
        condense: Callable[[list[str]], str] | None = None,
    ) -> None:
        self.counter = counter
        self.budget_tokens = budget_tokens
        self.condense = condense
        self._conclusions: list[_Item] = []
        self._turns: list[tuple[_Item, _Item]] = []

    @property
    def conclusions(self) -> list[str]:
        return [c.text for c in self._conclusions]

    @property
    def turns(self) -> list[tuple[str, str]]:
        return [(u.text, a.text) for u, a in self._turns]

    @property
    def tokens(self) -> int:
        return sum(c.tokens for c in self._conclusions) + sum(u.tokens + a.tokens for u, a in self._turns)

    def remember(self, conclusion: str) -> None:
        """Keep a key conclusion (kept longer than turns)."""
        conclusion = conclusion.strip()
        if conclusion and conclusion not in self.conclusions:
            self._conclusions.append(self._item(conclusion))
            self._fit()

    def add_turn(self, user: str, assistant: str) -> None:
        self._turns.append((self._item(user), self._item(assistant)))
        self._fit()

    def messages(self, system: str | None = None) -> list[dict[str, str]]:
        """What to send before the next user message: a system message (with the conclusions)
        and the kept turns."""
        parts = [system] if system else []
        if self._conclusions:
            parts.append("Key conclusions so far:\n" + "\n".join(f"- {c.text}" for c in self._conclusions))
        out = [{"role": "system", "content": "\n\n".join(parts)}] if parts else []
        for user, assistant in self._turns:
            out += [{"role": "user", "content": user.text}, {"role": "assistant", "content": assistant.text}]
        return out

    def clear(self) -> None:
        self._conclusions.clear()
        self._turns.clear()

    def _item(self, text: str) -> _Item:
        return _Item(text, self.counter.count(text))

    def _fit(self) -> None:
        while self.tokens > self.budget_tokens and self._turns:
            self._turns.pop(0)
        dropped: list[str] = []
        while self.tokens > self.budget_tokens and self._conclusions:
            dropped.append(self._conclusions.pop(0).text)
        if dropped and self.condense is not None:
            note = self._item(self.condense(dropped))
            while note.tokens + self.tokens > self.budget_tokens and self._conclusions:
                dropped.append(self._conclusions.pop(0).text)  # make room for the note itself
                note = self._item(self.condense(dropped))
            if note.tokens + self.tokens <= self.budget_tokens:
                self._conclusions.insert(0, note)
