"""Container names: the registry of who holds which name, and Docker-style generated names."""

from __future__ import annotations

import random
import threading

from ..errors import Conflict, InvalidParameter

_ADJECTIVES = (
    "admiring",
    "agitated",
    "amazing",
    "angry",
    "awesome",
    "blissful",
    "bold",
    "boring",
    "brave",
    "busy",
    "charming",
    "clever",
    "cool",
    "compassionate",
    "competent",
    "confident",
    "cranky",
    "dazzling",
    "determined",
    "distracted",
    "dreamy",
    "eager",
    "ecstatic",
    "elastic",
    "elated",
    "elegant",
    "eloquent",
    "epic",
    "fervent",
    "festive",
    "flamboyant",
    "focused",
    "friendly",
    "frosty",
    "gallant",
    "gifted",
    "goofy",
    "gracious",
    "happy",
    "hardcore",
    "heuristic",
    "hopeful",
    "hungry",
    "infallible",
    "inspiring",
    "jolly",
    "jovial",
    "keen",
    "kind",
    "laughing",
    "loving",
    "lucid",
    "magical",
    "modest",
    "musing",
    "mystifying",
    "naughty",
    "nervous",
    "nifty",
    "nostalgic",
    "objective",
    "optimistic",
    "peaceful",
    "pedantic",
    "pensive",
    "practical",
    "priceless",
    "quirky",
    "quizzical",
    "relaxed",
    "reverent",
    "romantic",
    "sad",
    "serene",
    "sharp",
    "silly",
    "sleepy",
    "stoic",
    "strange",
    "stupefied",
    "suspicious",
    "sweet",
    "tender",
    "thirsty",
    "trusting",
    "upbeat",
    "vibrant",
    "vigilant",
    "vigorous",
    "wizardly",
    "wonderful",
    "xenodochial",
    "youthful",
    "zealous",
    "zen",
)
_SURNAMES = (
    "albattani",
    "allen",
    "almeida",
    "archimedes",
    "ardinghelli",
    "babbage",
    "banach",
    "bardeen",
    "bartik",
    "bassi",
    "bell",
    "benz",
    "bhabha",
    "bohr",
    "booth",
    "brattain",
    "brown",
    "carson",
    "chandrasekhar",
    "curie",
    "darwin",
    "davinci",
    "dijkstra",
    "einstein",
    "elion",
    "engelbart",
    "euclid",
    "euler",
    "fermat",
    "fermi",
    "feynman",
    "franklin",
    "galileo",
    "gauss",
    "goldberg",
    "goodall",
    "hawking",
    "heisenberg",
    "hodgkin",
    "hopper",
    "hypatia",
    "jackson",
    "jang",
    "johnson",
    "kalam",
    "kepler",
    "khorana",
    "kilby",
    "knuth",
    "lalande",
    "lamport",
    "leakey",
    "lovelace",
    "lumiere",
    "mayer",
    "mccarthy",
    "mcclintock",
    "meitner",
    "mendel",
    "morse",
    "newton",
    "nobel",
    "noether",
    "pare",
    "pasteur",
    "perlman",
    "pike",
    "poincare",
    "ptolemy",
    "raman",
    "ritchie",
    "rosalind",
    "shannon",
    "shockley",
    "sinoussi",
    "stallman",
    "swartz",
    "tesla",
    "thompson",
    "torvalds",
    "turing",
    "wescoff",
    "wilbur",
    "williams",
    "wozniak",
    "wright",
    "yalow",
    "yonath",
)
_VALID = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def validate(name: str) -> str:
    """Normalize `name` to Docker's stored form `/name` or raise InvalidParameter."""
    bare = name[1:] if name.startswith("/") else name
    if len(bare) < 2 or bare[0] not in _VALID - frozenset("_.-") or any(c not in _VALID for c in bare):
        raise InvalidParameter(f"Invalid container name ({bare}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    return "/" + bare


class NameRegistry:
    """Maps `/name` (and `/parent/alias` for links) to container ids; one name per container."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_name: dict[str, str] = {}

    def reserve(self, name: str, container_id: str) -> None:
        with self._lock:
            holder = self._by_name.get(name)
            if holder and holder != container_id:
                bare = name.lstrip("/")
                raise Conflict(
                    f"Conflict, The name {bare} is already assigned to {holder[:12]}. You have to delete "
                    f"(or rename) that container to be able to assign {bare} to a container again."
                )
            self._by_name[name] = container_id

    def generate(self, container_id: str, rng: random.Random | None = None) -> str:
        rng = rng or random.SystemRandom()
        with self._lock:
            for attempt in range(100):
                name = f"/{rng.choice(_ADJECTIVES)}_{rng.choice(_SURNAMES)}"
                if attempt > 10:
                    name += str(rng.randrange(10))
                if name not in self._by_name:
                    self._by_name[name] = container_id
                    return name
            name = "/" + container_id[:12]
            self._by_name[name] = container_id
            return name

    def release(self, name: str) -> None:
        with self._lock:
            self._by_name.pop(name, None)

    def release_id(self, container_id: str) -> None:
        with self._lock:
            for name in [n for n, i in self._by_name.items() if i == container_id]:
                del self._by_name[name]

    def get(self, name: str) -> str | None:
        return self._by_name.get(name if name.startswith("/") else "/" + name)

    def names_under(self, parent: str) -> list[str]:
        """The link names `/parent/alias` under container name `parent`."""
        prefix = parent.rstrip("/") + "/"
        with self._lock:
            return sorted(n for n in self._by_name if n.startswith(prefix))

    def names_of(self, container_id: str) -> list[str]:
        with self._lock:
            return sorted(n for n, i in self._by_name.items() if i == container_id)

    def rename(self, old: str, new: str, container_id: str) -> None:
        """Move `container_id` from `old` to `new` (both `/name`), with the link names under it
        (`/old/alias` becomes `/new/alias`); Conflict if `new` is taken, nothing changed then."""
        with self._lock:
            holder = self._by_name.get(new)
            if holder and holder != container_id:
                raise Conflict(
                    f'Conflict. The container name "{new}" is already in use by container {holder}. '
                    f"You have to remove (or rename) that container to be able to reuse that name."
                )
            if self._by_name.get(old) == container_id:
                del self._by_name[old]
            self._by_name[new] = container_id
            prefix = old.rstrip("/") + "/"
            for name in [n for n in self._by_name if n.startswith(prefix)]:
                self._by_name[new + "/" + name[len(prefix) :]] = self._by_name.pop(name)
