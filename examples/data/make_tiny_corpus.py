"""Writes tiny_corpus.txt: the default training text of examples/char_rnn.py.

The text is original: short paragraphs about an imaginary harbour town, put together from a
small hand-written grammar by a seeded random generator, so the same file comes out on every
run (python3 examples/data/make_tiny_corpus.py). About 40 KB: enough for a character-level
model to learn spelling, spacing, capitals and punctuation, and the common word sequences, in
a few minutes on a CPU.
"""
from __future__ import annotations

import os
import random

PEOPLE = ["the old fisherman", "the baker", "a young sailor", "the lighthouse keeper", "the miller's daughter",
          "the schoolteacher", "a travelling painter", "the harbour master", "two children", "the ferryman",
          "the weaver", "a tired messenger"]
NAMES = ["Ansel", "Brita", "Corin", "Dagny", "Elmer", "Freya", "Gunnar", "Hilde", "Ivo", "Juna"]
PLACES = ["the harbour", "the market square", "the narrow bridge", "the lighthouse", "the mill by the river",
          "the stone pier", "the chapel on the hill", "the salt marsh", "the long beach", "the inn"]
TIMES = ["At dawn", "In the evening", "Before the rain came", "On the first day of spring", "Late at night",
         "When the tide turned", "After the storm", "Every morning", "At noon", "In the winter"]
VERBS = ["walked to", "looked out over", "waited at", "sang near", "painted", "cleaned", "swept", "visited",
         "left a lantern at", "counted the boats at"]
THINGS = ["a basket of bread", "a bundle of letters", "an old map", "a net full of fish", "a broken oar",
          "a jar of honey", "a red scarf", "a brass bell", "a wooden box", "a sack of flour"]
WEATHER = ["the wind came from the north", "the sea was calm and grey", "fog lay on the water",
           "the sky was clear and cold", "rain drummed on the roofs", "the gulls were loud above the waves",
           "the sun was warm on the stones", "snow covered the hills"]
FEELINGS = ["happy", "worried", "quiet", "curious", "patient", "tired", "hopeful", "cheerful"]
SAYINGS = ["The tide waits for nobody", "A calm sea never made a good sailor", "Bread tastes best when shared",
           "Every lantern needs its keeper", "Count the boats before you count the fish",
           "The bridge is old but it holds", "Ask the wind and it will answer"]
ENDINGS = ["and nobody said a word", "and then it was time to go home", "and the day went on as before",
           "and the bells rang twice", "and everyone agreed it had been a good day",
           "and the lamps were lit one by one"]


def cap(s: str) -> str:
    return s[0].upper() + s[1:]


def sentence(r: random.Random) -> str:
    k = r.randrange(8)
    if k == 0:
        return f"{r.choice(TIMES)}, {r.choice(PEOPLE)} {r.choice(VERBS)} {r.choice(PLACES)}."
    if k == 1:
        return f"{cap(r.choice(PEOPLE))} carried {r.choice(THINGS)} to {r.choice(PLACES)}, {r.choice(ENDINGS)}."
    if k == 2:
        return f"{r.choice(TIMES)}, {r.choice(WEATHER)}."
    if k == 3:
        return f"{r.choice(NAMES)} was {r.choice(FEELINGS)}, because {r.choice(WEATHER)}."
    if k == 4:
        return f"\"{r.choice(SAYINGS)},\" said {r.choice(NAMES)}."
    if k == 5:
        a, b = r.sample(NAMES, 2)
        return f"{a} gave {r.choice(THINGS)} to {b}, {r.choice(ENDINGS)}."
    if k == 6:
        n = r.randint(2, 12)
        return f"There were {n} boats at {r.choice(PLACES)}, and {r.choice(PEOPLE)} counted them all."
    return f"{cap(r.choice(PEOPLE))} {r.choice(VERBS)} {r.choice(PLACES)} while {r.choice(WEATHER)}."


def corpus(size: int = 40_000, seed: int = 7) -> str:
    r = random.Random(seed)
    paragraphs, total = [], 0
    while total < size:
        para = " ".join(sentence(r) for _ in range(r.randint(3, 6)))
        paragraphs.append(para)
        total += len(para) + 2
    return "\n\n".join(paragraphs) + "\n"


if __name__ == "__main__":
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tiny_corpus.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write(corpus())
    print(f"wrote {path}")
