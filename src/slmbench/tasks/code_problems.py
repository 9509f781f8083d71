"""An original set of LeetCode-medium-style problems, written for slmbench.

Each problem has a stub (signature + docstring, HumanEval style), a reference solution and a
seeded input generator; the expected outputs come from the reference. Every answer is unique
(ties are broken in the statement), so outputs are compared for equality. Topics: arrays,
strings, hashing, two pointers, intervals, graphs, dynamic programming.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

Gen = Callable[[random.Random], tuple[Any, ...]]


@dataclass(frozen=True)
class Problem:
    name: str
    topic: str
    stub: str  # signature and docstring; the model writes the body
    reference: Callable[..., Any]
    gen: Gen
    edge: tuple[tuple[Any, ...], ...] = ()


PROBLEMS: list[Problem] = []


def problem(
    topic: str, stub: str, gen: Gen, edge: tuple[tuple[Any, ...], ...] = ()
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(reference: Callable[..., Any]) -> Callable[..., Any]:
        PROBLEMS.append(Problem(reference.__name__, topic, stub.strip("\n") + "\n", reference, gen, edge))
        return reference

    return register


def ints(rng: random.Random, lo: int = -50, hi: int = 50, n_max: int = 30, n_min: int = 0) -> list[int]:
    return [rng.randint(lo, hi) for _ in range(rng.randint(n_min, n_max))]


def word(rng: random.Random, alphabet: str = "abc", n_max: int = 12, n_min: int = 0) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(n_min, n_max)))


def intervals(rng: random.Random, n_max: int = 12, n_min: int = 0, span: int = 60, width: int = 15) -> list[list[int]]:
    out = []
    for _ in range(rng.randint(n_min, n_max)):
        a = rng.randint(0, span)
        out.append([a, a + rng.randint(1, width)])
    return out


def _with_rank(rng: random.Random, nums: list[int], distinct: bool) -> tuple[list[int], int]:
    """nums and a k from 1 to its length (or to its number of distinct values)."""
    return nums, rng.randint(1, len(set(nums)) if distinct else len(nums))


def _prerequisites(rng: random.Random) -> tuple[int, list[list[int]]]:
    n = rng.randint(1, 8)
    return n, edges(rng, n, rng.randint(0, n + 2), directed=True)


def _graph(rng: random.Random) -> tuple[int, list[list[int]]]:
    n = rng.randint(1, 12)
    return n, edges(rng, n, rng.randint(0, n))


def _weighted(rng: random.Random) -> tuple[list[list[int]], int, int]:
    """network_delay's (times, n, k): weighted directed edges between nodes 1..n."""
    n = rng.randint(1, 7)
    times = [[a + 1, b + 1, rng.randint(0, 9)] for a, b in edges(rng, n, rng.randint(0, 3 * n), directed=True)]
    return times, n, rng.randint(1, n)


def edges(rng: random.Random, n: int, m: int, directed: bool = False) -> list[list[int]]:
    found: set[tuple[int, int]] = set()
    for _ in range(m):
        a, b = rng.randrange(n), rng.randrange(n)
        if a != b and (directed or (b, a) not in found):
            found.add((a, b))
    return [list(e) for e in sorted(found)]


# -- arrays ------------------------------------------------------------------------------------


@problem(
    "arrays",
    '''
def max_subarray_sum(nums: list[int]) -> int:
    """Return the largest sum of a non-empty contiguous subarray of nums (nums is not empty).
    >>> max_subarray_sum([-2, 1, -3, 4, -1, 2, 1, -5, 4])
    6
    """''',
    lambda r: (ints(r, n_min=1),),
    edge=(([-3],), ([-5, -1, -8],)),
)
def max_subarray_sum(nums):
    best = cur = nums[0]
    for x in nums[1:]:
        cur = max(x, cur + x)
        best = max(best, cur)
    return best


@problem(
    "arrays",
    '''
def product_except_self(nums: list[int]) -> list[int]:
    """Return a list whose i-th element is the product of all elements of nums except nums[i].
    >>> product_except_self([1, 2, 3, 4])
    [24, 12, 8, 6]
    """''',
    lambda r: (ints(r, -4, 4, 10, 2),),
    edge=(([0, 0],), ([5, 0, 2],)),
)
def product_except_self(nums):
    out = []
    for i in range(len(nums)):
        p = 1
        for j, x in enumerate(nums):
            if j != i:
                p *= x
        out.append(p)
    return out


@problem(
    "arrays",
    '''
def rotate_right(nums: list[int], k: int) -> list[int]:
    """Return nums rotated to the right by k steps (k >= 0, possibly larger than len(nums)).
    >>> rotate_right([1, 2, 3, 4, 5], 2)
    [4, 5, 1, 2, 3]
    """''',
    lambda r: (ints(r), r.randint(0, 70)),
    edge=(([], 3), ([1], 0)),
)
def rotate_right(nums, k):
    if not nums:
        return []
    k %= len(nums)
    return nums[len(nums) - k :] + nums[: len(nums) - k]


@problem(
    "arrays",
    '''
def next_permutation(nums: list[int]) -> list[int]:
    """Return the next lexicographically greater permutation of nums; if nums is the greatest,
    return the smallest (sorted ascending).
    >>> next_permutation([1, 2, 3])
    [1, 3, 2]
    >>> next_permutation([3, 2, 1])
    [1, 2, 3]
    """''',
    lambda r: (ints(r, 0, 5, 8),),
    edge=(([],), ([1, 1, 5],), ([1, 5, 1],)),
)
def next_permutation(nums):
    a = list(nums)
    i = len(a) - 2
    while i >= 0 and a[i] >= a[i + 1]:
        i -= 1
    if i >= 0:
        j = len(a) - 1
        while a[j] <= a[i]:
            j -= 1
        a[i], a[j] = a[j], a[i]
    a[i + 1 :] = reversed(a[i + 1 :])
    return a


@problem(
    "arrays",
    '''
def spiral_order(matrix: list[list[int]]) -> list[int]:
    """Return the elements of a rectangular matrix in clockwise spiral order, starting top-left.
    >>> spiral_order([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    [1, 2, 3, 6, 9, 8, 7, 4, 5]
    """''',
    lambda r: ([[r.randint(0, 99) for _ in range(c)] for c in [r.randint(1, 6)] for _ in range(r.randint(1, 6))],),
    edge=(([],), ([[1], [2], [3]],)),
)
def spiral_order(matrix):
    out = []
    m = [list(row) for row in matrix]
    while m:
        out += m.pop(0)
        m = [list(row) for row in zip(*m)][::-1] if m and m[0] else []
    return out


@problem(
    "arrays",
    '''
def daily_temperatures(temps: list[int]) -> list[int]:
    """For each day, return how many days one has to wait for a strictly warmer temperature,
    or 0 if no warmer day follows.
    >>> daily_temperatures([73, 74, 75, 71, 69, 72, 76, 73])
    [1, 1, 4, 2, 1, 1, 0, 0]
    """''',
    lambda r: (ints(r, 30, 40, 40),),
    edge=(([],), ([5, 5, 5],)),
)
def daily_temperatures(temps):
    out, stack = [0] * len(temps), []
    for i, t in enumerate(temps):
        while stack and temps[stack[-1]] < t:
            j = stack.pop()
            out[j] = i - j
        stack.append(i)
    return out


@problem(
    "arrays",
    '''
def kth_largest(nums: list[int], k: int) -> int:
    """Return the k-th largest element of nums (1 <= k <= len(nums)); duplicates count separately.
    >>> kth_largest([3, 2, 3, 1, 2, 4, 5, 5, 6], 4)
    4
    """''',
    lambda r: _with_rank(r, ints(r, n_min=1), distinct=False),
    edge=(([1], 1),),
)
def kth_largest(nums, k):
    return heapq.nlargest(k, nums)[-1]


@problem(
    "arrays",
    '''
def max_product_subarray(nums: list[int]) -> int:
    """Return the largest product of a non-empty contiguous subarray of nums (nums is not empty).
    >>> max_product_subarray([2, 3, -2, 4])
    6
    """''',
    lambda r: (ints(r, -5, 5, 12, 1),),
    edge=(([-2],), ([-2, 0, -1],)),
)
def max_product_subarray(nums):
    best = hi = lo = nums[0]
    for x in nums[1:]:
        hi, lo = max(x, hi * x, lo * x), min(x, hi * x, lo * x)
        best = max(best, hi)
    return best


# -- strings -----------------------------------------------------------------------------------


@problem(
    "strings",
    '''
def longest_unique_substring(s: str) -> int:
    """Return the length of the longest substring of s without repeated characters.
    >>> longest_unique_substring("abcabcbb")
    3
    """''',
    lambda r: (word(r, "abcdef", 30),),
    edge=(("",), ("bbbb",)),
)
def longest_unique_substring(s):
    seen, start, best = {}, 0, 0
    for i, ch in enumerate(s):
        if seen.get(ch, -1) >= start:
            start = seen[ch] + 1
        seen[ch] = i
        best = max(best, i - start + 1)
    return best


@problem(
    "strings",
    '''
def longest_palindrome(s: str) -> str:
    """Return the longest palindromic substring of s; if several have that length, the leftmost.
    >>> longest_palindrome("babad")
    'bab'
    """''',
    lambda r: (word(r, "ab", 16),),
    edge=(("",), ("a",), ("cbbd",)),
)
def longest_palindrome(s):
    best = ""
    for centre in range(2 * len(s) - 1):  # left to right, so the first longest one wins ties
        lo, hi = centre // 2, (centre + 1) // 2
        while lo >= 0 and hi < len(s) and s[lo] == s[hi]:
            lo, hi = lo - 1, hi + 1
        if hi - lo - 1 > len(best):
            best = s[lo + 1 : hi]
    return best


@problem(
    "strings",
    '''
def min_window(s: str, t: str) -> str:
    """Return the shortest substring of s that contains every character of t (with multiplicity);
    if several are shortest, the leftmost; if none exists, "". t is not empty.
    >>> min_window("ADOBECODEBANC", "ABC")
    'BANC'
    """''',
    lambda r: (word(r, "abcd", 20), word(r, "abc", 3, 1)),
    edge=(("a", "aa"), ("a", "a")),
)
def min_window(s, t):
    need = Counter(t)
    best = ""
    for i in range(len(s)):
        have: Counter[str] = Counter()
        for j in range(i, len(s)):
            have[s[j]] += 1
            if all(have[c] >= n for c, n in need.items()):
                if not best or j - i + 1 < len(best):
                    best = s[i : j + 1]
                break
    return best


@problem(
    "strings",
    '''
def decode_string(s: str) -> str:
    """Decode s where k[text] means text repeated k times; brackets nest; k is a positive integer.
    >>> decode_string("3[a2[c]]")
    'accaccacc'
    """''',
    lambda r: (_encoded(r, 2),),
    edge=(("",), ("abc",), ("10[a]",)),
)
def decode_string(s):
    stack: list[tuple[str, int]] = []
    cur, num = "", 0
    for ch in s:
        if ch.isdigit():
            num = num * 10 + int(ch)
        elif ch == "[":
            stack.append((cur, num))
            cur, num = "", 0
        elif ch == "]":
            prev, k = stack.pop()
            cur = prev + cur * k
        else:
            cur += ch
    return cur


def _encoded(rng: random.Random, depth: int) -> str:
    parts = []
    for _ in range(rng.randint(1, 3)):
        if depth and rng.random() < 0.5:
            parts.append(f"{rng.randint(1, 4)}[{_encoded(rng, depth - 1)}]")
        else:
            parts.append(word(rng, "xyz", 3, 1))
    return "".join(parts)


@problem(
    "strings",
    '''
def count_and_say(n: int) -> str:
    """Return the n-th term (n >= 1) of the count-and-say sequence: "1", "11", "21", "1211", ...
    >>> count_and_say(4)
    '1211'
    """''',
    lambda r: (r.randint(1, 20),),
    edge=((1,),),
)
def count_and_say(n):
    s = "1"
    for _ in range(n - 1):
        out, i = [], 0
        while i < len(s):
            j = i
            while j < len(s) and s[j] == s[i]:
                j += 1
            out.append(f"{j - i}{s[i]}")
            i = j
        s = "".join(out)
    return s


@problem(
    "strings",
    '''
def min_add_to_balance(s: str) -> int:
    """Return the least number of '(' or ')' to insert so that the parentheses string s is balanced.
    >>> min_add_to_balance("())")
    1
    """''',
    lambda r: (word(r, "()", 24),),
    edge=(("",), ("(((",)),
)
def min_add_to_balance(s):
    open_, add = 0, 0
    for ch in s:
        if ch == "(":
            open_ += 1
        elif open_:
            open_ -= 1
        else:
            add += 1
    return add + open_


@problem(
    "strings",
    '''
def reverse_words(s: str) -> str:
    """Return the words of s (separated by any amount of spaces) in reverse order, joined by single
    spaces, with no leading or trailing space.
    >>> reverse_words("  the sky  is blue ")
    'blue is sky the'
    """''',
    lambda r: (" ".join(word(r, "ab ", 6) for _ in range(r.randint(0, 6))),),
    edge=(("",), ("   ",)),
)
def reverse_words(s):
    return " ".join(reversed(s.split()))


@problem(
    "strings",
    '''
def is_anagram_of_substring(s: str, p: str) -> list[int]:
    """Return, in increasing order, every start index i such that s[i:i+len(p)] is an anagram of p
    (p is not empty).
    >>> is_anagram_of_substring("cbaebabacd", "abc")
    [0, 6]
    """''',
    lambda r: (word(r, "abc", 25), word(r, "abc", 3, 1)),
    edge=(("", "a"), ("ab", "abc")),
)
def is_anagram_of_substring(s, p):
    k, want = len(p), Counter(p)
    return [i for i in range(len(s) - k + 1) if Counter(s[i : i + k]) == want]


# -- hashing -----------------------------------------------------------------------------------


@problem(
    "hashing",
    '''
def count_subarrays_with_sum(nums: list[int], k: int) -> int:
    """Return how many non-empty contiguous subarrays of nums sum to k.
    >>> count_subarrays_with_sum([1, 1, 1], 2)
    2
    """''',
    lambda r: (ints(r, -3, 3, 30), r.randint(-3, 5)),
    edge=(([], 0), ([0, 0], 0)),
)
def count_subarrays_with_sum(nums, k):
    seen, total, count = Counter({0: 1}), 0, 0
    for x in nums:
        total += x
        count += seen[total - k]
        seen[total] += 1
    return count


@problem(
    "hashing",
    '''
def longest_consecutive(nums: list[int]) -> int:
    """Return the length of the longest run of consecutive integers that all occur in nums
    (in any order).
    >>> longest_consecutive([100, 4, 200, 1, 3, 2])
    4
    """''',
    lambda r: (ints(r, 0, 40, 30),),
    edge=(([],), ([1, 1, 1],)),
)
def longest_consecutive(nums):
    s, best = set(nums), 0
    for x in s:
        if x - 1 not in s:
            y = x
            while y + 1 in s:
                y += 1
            best = max(best, y - x + 1)
    return best


@problem(
    "hashing",
    '''
def group_anagrams(words: list[str]) -> list[list[str]]:
    """Group the words that are anagrams of each other. Sort each group, and sort the groups
    (as lists) in ascending order. Duplicated words stay duplicated.
    >>> group_anagrams(["eat", "tea", "tan", "ate", "nat", "bat"])
    [['ate', 'eat', 'tea'], ['bat'], ['nat', 'tan']]
    """''',
    lambda r: ([word(r, "abt", 3, 1) for _ in range(r.randint(0, 10))],),
    edge=(([],), ([""],)),
)
def group_anagrams(words):
    groups = defaultdict(list)
    for w in words:
        groups["".join(sorted(w))].append(w)
    return sorted(sorted(g) for g in groups.values())


@problem(
    "hashing",
    '''
def top_k_frequent(nums: list[int], k: int) -> list[int]:
    """Return the k most frequent values of nums, most frequent first; equally frequent values in
    ascending order. 1 <= k <= number of distinct values.
    >>> top_k_frequent([1, 1, 1, 2, 2, 3], 2)
    [1, 2]
    """''',
    lambda r: _with_rank(r, ints(r, 0, 8, 30, 1), distinct=True),
    edge=(([4], 1),),
)
def top_k_frequent(nums, k):
    counts = Counter(nums)
    return sorted(counts, key=lambda x: (-counts[x], x))[:k]


@problem(
    "hashing",
    '''
def first_unique_char(s: str) -> int:
    """Return the index of the first character of s that occurs exactly once, or -1.
    >>> first_unique_char("loveleetcode")
    2
    """''',
    lambda r: (word(r, "abcde", 15),),
    edge=(("",), ("aabb",)),
)
def first_unique_char(s):
    counts = Counter(s)
    return next((i for i, ch in enumerate(s) if counts[ch] == 1), -1)


# -- two pointers ------------------------------------------------------------------------------


@problem(
    "two pointers",
    '''
def three_sum(nums: list[int]) -> list[list[int]]:
    """Return every distinct triplet [a, b, c] of values at three different positions of nums with
    a + b + c == 0; each triplet sorted ascending, the list of triplets sorted ascending.
    >>> three_sum([-1, 0, 1, 2, -1, -4])
    [[-1, -1, 2], [-1, 0, 1]]
    """''',
    lambda r: (ints(r, -8, 8, 20),),
    edge=(([0, 0, 0, 0],), ([],)),
)
def three_sum(nums):
    found = set()
    a = sorted(nums)
    for i in range(len(a)):
        for j in range(i + 1, len(a)):
            for k in range(j + 1, len(a)):
                if a[i] + a[j] + a[k] == 0:
                    found.add((a[i], a[j], a[k]))
    return [list(t) for t in sorted(found)]


@problem(
    "two pointers",
    '''
def max_water(heights: list[int]) -> int:
    """Given wall heights at positions 0..n-1, return the most water a container formed by two walls
    can hold: min(heights[i], heights[j]) * (j - i).
    >>> max_water([1, 8, 6, 2, 5, 4, 8, 3, 7])
    49
    """''',
    lambda r: (ints(r, 0, 20, 40),),
    edge=(([],), ([5],)),
)
def max_water(heights):
    return max(
        (min(heights[i], heights[j]) * (j - i) for i in range(len(heights)) for j in range(i + 1, len(heights))),
        default=0,
    )


@problem(
    "two pointers",
    '''
def trap_rain(heights: list[int]) -> int:
    """Return how many units of rain water are trapped between bars of the given heights (width 1).
    >>> trap_rain([0, 1, 0, 2, 1, 0, 1, 3, 2, 1, 2, 1])
    6
    """''',
    lambda r: (ints(r, 0, 9, 30),),
    edge=(([],), ([3, 0, 3],)),
)
def trap_rain(heights):
    return sum(max(0, min(max(heights[: i + 1]), max(heights[i:])) - h) for i, h in enumerate(heights))


@problem(
    "two pointers",
    '''
def dedupe_at_most_two(nums: list[int]) -> list[int]:
    """nums is sorted ascending; return it with every value kept at most twice.
    >>> dedupe_at_most_two([1, 1, 1, 2, 2, 3])
    [1, 1, 2, 2, 3]
    """''',
    lambda r: (sorted(ints(r, 0, 6, 20)),),
    edge=(([],),),
)
def dedupe_at_most_two(nums):
    out: list[int] = []
    for x in nums:
        if len(out) < 2 or out[-2] != x:
            out.append(x)
    return out


@problem(
    "two pointers",
    '''
def is_subsequence_count(s: str, words: list[str]) -> int:
    """Return how many entries of words are subsequences of s (duplicates count each time).
    >>> is_subsequence_count("abcde", ["a", "bb", "acd", "ace"])
    3
    """''',
    lambda r: (word(r, "abc", 15), [word(r, "abc", 4) for _ in range(r.randint(0, 8))]),
    edge=(("", [""]),),
)
def is_subsequence_count(s, words):
    def sub(w):
        it = iter(s)
        return all(ch in it for ch in w)

    return sum(sub(w) for w in words)


# -- intervals ---------------------------------------------------------------------------------


@problem(
    "intervals",
    '''
def merge_intervals(intervals: list[list[int]]) -> list[list[int]]:
    """Merge overlapping closed intervals [start, end] (touching ones too) and return the result
    sorted by start.
    >>> merge_intervals([[1, 3], [2, 6], [8, 10], [15, 18]])
    [[1, 6], [8, 10], [15, 18]]
    """''',
    lambda r: (intervals(r),),
    edge=(([],), ([[1, 4], [4, 5]],)),
)
def merge_intervals(intervals):
    out: list[list[int]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out


@problem(
    "intervals",
    '''
def insert_interval(intervals: list[list[int]], new: list[int]) -> list[list[int]]:
    """intervals are sorted and disjoint closed intervals; insert new, merging where they overlap
    or touch, and return the sorted disjoint result.
    >>> insert_interval([[1, 3], [6, 9]], [2, 5])
    [[1, 5], [6, 9]]
    """''',
    lambda r: (merge_intervals(intervals(r)), intervals(r, 1, 1, 70, 20)[0]),
    edge=(([], [1, 2]),),
)
def insert_interval(intervals, new):
    return merge_intervals([*intervals, new])


@problem(
    "intervals",
    '''
def min_removals_for_no_overlap(intervals: list[list[int]]) -> int:
    """Return the least number of intervals [start, end) to remove so that the rest do not overlap
    (intervals that only touch do not overlap).
    >>> min_removals_for_no_overlap([[1, 2], [2, 3], [3, 4], [1, 3]])
    1
    """''',
    lambda r: (intervals(r),),
    edge=(([],),),
)
def min_removals_for_no_overlap(intervals):
    end, kept = None, 0
    for a, b in sorted(intervals, key=lambda iv: iv[1]):
        if end is None or a >= end:
            kept, end = kept + 1, b
    return len(intervals) - kept


@problem(
    "intervals",
    '''
def min_meeting_rooms(meetings: list[list[int]]) -> int:
    """Return the least number of rooms needed to hold all meetings [start, end) (a meeting may
    start in a room the moment another ends there).
    >>> min_meeting_rooms([[0, 30], [5, 10], [15, 20]])
    2
    """''',
    lambda r: (intervals(r, 15, span=40),),
    edge=(([],), ([[1, 5], [5, 10]],)),
)
def min_meeting_rooms(meetings):
    events = sorted([(a, 1) for a, _ in meetings] + [(b, -1) for _, b in meetings])
    cur = best = 0
    for _, d in events:
        cur += d
        best = max(best, cur)
    return best


@problem(
    "intervals",
    '''
def interval_intersections(a: list[list[int]], b: list[list[int]]) -> list[list[int]]:
    """a and b are each sorted lists of disjoint closed intervals; return their intersection as a
    sorted list of closed intervals (a single shared point [x, x] counts).
    >>> interval_intersections([[0, 2], [5, 10]], [[1, 5], [8, 12]])
    [[1, 2], [5, 5], [8, 10]]
    """''',
    lambda r: (merge_intervals(intervals(r)), merge_intervals(intervals(r))),
    edge=(([], [[1, 2]]),),
)
def interval_intersections(a, b):
    out = []
    for x1, y1 in a:
        for x2, y2 in b:
            lo, hi = max(x1, x2), min(y1, y2)
            if lo <= hi:
                out.append([lo, hi])
    return sorted(out)


# -- graphs ------------------------------------------------------------------------------------


def _walls(rng: random.Random, chars: str = "01") -> list[str]:
    """A rectangular grid of 1-8 rows and columns as strings of chars."""
    w = rng.randint(1, 8)
    return ["".join(rng.choice(chars) for _ in range(w)) for _ in range(rng.randint(1, 8))]


@problem(
    "graphs",
    '''
def count_islands(grid: list[str]) -> int:
    """grid rows are strings of '1' (land) and '0' (water); return the number of islands (groups of
    land cells connected up, down, left or right).
    >>> count_islands(["11000", "11000", "00100", "00011"])
    3
    """''',
    lambda r: (_walls(r),),
    edge=((["0"],), (["1"],)),
)
def count_islands(grid):
    seen, count = set(), 0
    for i, row in enumerate(grid):
        for j, ch in enumerate(row):
            if ch == "1" and (i, j) not in seen:
                count += 1
                todo = [(i, j)]
                seen.add((i, j))
                while todo:
                    y, x = todo.pop()
                    for ny, nx in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
                        if (
                            0 <= ny < len(grid)
                            and 0 <= nx < len(grid[ny])
                            and grid[ny][nx] == "1"
                            and (ny, nx) not in seen
                        ):
                            seen.add((ny, nx))
                            todo.append((ny, nx))
    return count


@problem(
    "graphs",
    '''
def can_finish(n: int, prerequisites: list[list[int]]) -> bool:
    """Courses 0..n-1; [a, b] means b must be taken before a. Return whether all can be taken.
    >>> can_finish(2, [[1, 0], [0, 1]])
    False
    """''',
    lambda r: _prerequisites(r),
    edge=((1, []),),
)
def can_finish(n, prerequisites):
    return bool(topo_order(n, prerequisites)) or n == 0


@problem(
    "graphs",
    '''
def topo_order(n: int, prerequisites: list[list[int]]) -> list[int]:
    """Courses 0..n-1; [a, b] means b must be taken before a. Return the order to take them that is
    smallest lexicographically, or [] if there is none.
    >>> topo_order(4, [[1, 0], [2, 0], [3, 1], [3, 2]])
    [0, 1, 2, 3]
    """''',
    lambda r: _prerequisites(r),
    edge=((3, []),),
)
def topo_order(n, prerequisites):
    after, indegree = defaultdict(list), [0] * n
    for a, b in prerequisites:
        after[b].append(a)
        indegree[a] += 1
    ready = [v for v in range(n) if indegree[v] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        v = heapq.heappop(ready)
        order.append(v)
        for w in after[v]:
            indegree[w] -= 1
            if indegree[w] == 0:
                heapq.heappush(ready, w)
    return order if len(order) == n else []


@problem(
    "graphs",
    '''
def shortest_path_grid(grid: list[str]) -> int:
    """grid rows are strings of '.' (open) and '#' (wall). Return the fewest steps (up, down, left,
    right) from the top-left to the bottom-right cell, or -1 if either is a wall or it cannot be
    reached. A 1x1 open grid needs 0 steps.
    >>> shortest_path_grid(["..", "#."])
    2
    """''',
    lambda r: (_walls(r, "..#"),),
    edge=((["."],), (["#"],)),
)
def shortest_path_grid(grid):
    h, w = len(grid), len(grid[0])
    if grid[0][0] == "#" or grid[h - 1][w - 1] == "#":
        return -1
    dist = {(0, 0): 0}
    todo = deque([(0, 0)])
    while todo:
        y, x = todo.popleft()
        if (y, x) == (h - 1, w - 1):
            return dist[y, x]
        for ny, nx in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
            if 0 <= ny < h and 0 <= nx < w and grid[ny][nx] == "." and (ny, nx) not in dist:
                dist[ny, nx] = dist[y, x] + 1
                todo.append((ny, nx))
    return -1


@problem(
    "graphs",
    '''
def network_delay(times: list[list[int]], n: int, k: int) -> int:
    """Nodes 1..n; times[i] = [u, v, w] is a directed edge u -> v taking w >= 0. A signal leaves
    node k; return the time until every node has received it, or -1 if some never does.
    >>> network_delay([[2, 1, 1], [2, 3, 1], [3, 4, 1]], 4, 2)
    2
    """''',
    lambda r: _weighted(r),
    edge=(([], 1, 1),),
)
def network_delay(times, n, k):
    graph = defaultdict(list)
    for u, v, w in times:
        graph[u].append((v, w))
    dist: dict[int, int] = {}
    heap = [(0, k)]
    while heap:
        d, u = heapq.heappop(heap)
        if u in dist:
            continue
        dist[u] = d
        for v, w in graph[u]:
            if v not in dist:
                heapq.heappush(heap, (d + w, v))
    return max(dist.values()) if len(dist) == n else -1


@problem(
    "graphs",
    '''
def count_components(n: int, edges: list[list[int]]) -> int:
    """Return the number of connected components of the undirected graph with nodes 0..n-1.
    >>> count_components(5, [[0, 1], [1, 2], [3, 4]])
    2
    """''',
    lambda r: _graph(r),
    edge=((1, []),),
)
def count_components(n, edges):
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in edges:
        parent[find(a)] = find(b)
    return len({find(x) for x in range(n)})


# -- dynamic programming -----------------------------------------------------------------------


@problem(
    "dp",
    '''
def coin_change(coins: list[int], amount: int) -> int:
    """Return the fewest coins (unlimited supply of each positive value) that sum to amount, or -1.
    >>> coin_change([1, 2, 5], 11)
    3
    """''',
    lambda r: (sorted({r.randint(1, 12) for _ in range(r.randint(1, 4))}), r.randint(0, 60)),
    edge=(([2], 3), ([1], 0)),
)
def coin_change(coins, amount):
    best = [0] + [amount + 1] * amount
    for a in range(1, amount + 1):
        best[a] = min([best[a - c] + 1 for c in coins if c <= a], default=amount + 1)
    return best[amount] if best[amount] <= amount else -1


@problem(
    "dp",
    '''
def longest_increasing_subsequence(nums: list[int]) -> int:
    """Return the length of the longest strictly increasing subsequence of nums.
    >>> longest_increasing_subsequence([10, 9, 2, 5, 3, 7, 101, 18])
    4
    """''',
    lambda r: (ints(r, 0, 30, 30),),
    edge=(([],), ([7, 7, 7],)),
)
def longest_increasing_subsequence(nums):
    best = [1] * len(nums)
    for i in range(len(nums)):
        for j in range(i):
            if nums[j] < nums[i]:
                best[i] = max(best[i], best[j] + 1)
    return max(best, default=0)


@problem(
    "dp",
    '''
def edit_distance(a: str, b: str) -> int:
    """Return the least number of single-character insertions, deletions and substitutions that
    turn a into b.
    >>> edit_distance("horse", "ros")
    3
    """''',
    lambda r: (word(r, "abcd", 10), word(r, "abcd", 10)),
    edge=(("", ""), ("", "abc")),
)
def edit_distance(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


@problem(
    "dp",
    '''
def unique_paths_with_walls(grid: list[str]) -> int:
    """grid rows are strings of '.' (open) and '#' (wall). Return the number of paths from the
    top-left to the bottom-right cell moving only right or down through open cells.
    >>> unique_paths_with_walls(["...", ".#.", "..."])
    2
    """''',
    lambda r: (_walls(r, "...#"),),
    edge=((["#"],), (["."],)),
)
def unique_paths_with_walls(grid):
    w = len(grid[0])
    ways = [0] * w
    ways[0] = 1
    for row in grid:
        for j in range(w):
            if row[j] == "#":
                ways[j] = 0
            elif j:
                ways[j] += ways[j - 1]
    return ways[-1]


def _breakable(rng: random.Random) -> tuple[str, list[str]]:
    words = [word(rng, "ab", 3, 1) for _ in range(rng.randint(1, 4))]
    if rng.random() < 0.5:  # half of the strings are built from the words, so both answers occur
        return "".join(rng.choice(words) for _ in range(rng.randint(1, 6))) + word(rng, "ab", 1), words
    return word(rng, "ab", 14), words


@problem(
    "dp",
    '''
def word_break(s: str, words: list[str]) -> bool:
    """Return whether s can be split into a sequence of one or more entries of words (reusable).
    >>> word_break("leetcode", ["leet", "code"])
    True
    """''',
    lambda r: _breakable(r),
    edge=(("", ["a"]),),
)
def word_break(s, words):
    ok = [True] + [False] * len(s)
    for i in range(1, len(s) + 1):
        ok[i] = any(ok[i - len(w)] and s[i - len(w) : i] == w for w in words if len(w) <= i)
    return ok[-1]


@problem(
    "dp",
    '''
def rob_circle(houses: list[int]) -> int:
    """Houses stand in a circle (the first and last are neighbours); return the most money one can
    take without taking from two neighbouring houses.
    >>> rob_circle([2, 3, 2])
    3
    """''',
    lambda r: (ints(r, 0, 20, 20),),
    edge=(([],), ([5],)),
)
def rob_circle(houses):
    def line(hs):
        a = b = 0
        for h in hs:
            a, b = b, max(b, a + h)
        return b

    if len(houses) == 1:
        return houses[0]
    return max(line(houses[1:]), line(houses[:-1]), 0)


@problem(
    "dp",
    '''
def longest_common_subsequence(a: str, b: str) -> int:
    """Return the length of the longest common subsequence of a and b.
    >>> longest_common_subsequence("abcde", "ace")
    3
    """''',
    lambda r: (word(r, "abc", 12), word(r, "abc", 12)),
    edge=(("", "a"),),
)
def longest_common_subsequence(a, b):
    prev = [0] * (len(b) + 1)
    for ca in a:
        cur = [0]
        for j, cb in enumerate(b, 1):
            cur.append(prev[j - 1] + 1 if ca == cb else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


@problem(
    "dp",
    '''
def can_partition(nums: list[int]) -> bool:
    """Return whether nums (positive integers) can be split into two groups of equal sum.
    >>> can_partition([1, 5, 11, 5])
    True
    """''',
    lambda r: (ints(r, 1, 15, 12, 1),),
    edge=(([1],), ([2, 2],)),
)
def can_partition(nums):
    total = sum(nums)
    if total % 2:
        return False
    sums = {0}
    for x in nums:
        sums |= {s + x for s in sums}
    return total // 2 in sums


@problem(
    "dp",
    '''
def decode_ways(s: str) -> int:
    """Letters A-Z are encoded as "1".."26". Return the number of ways to decode the digit string s
    (0 if none; an empty string has 1 way).
    >>> decode_ways("226")
    3
    """''',
    lambda r: (word(r, "0121126", 14),),
    edge=(("",), ("06",), ("10",)),
)
def decode_ways(s):
    prev, cur = 1, int(bool(s) and s[0] != "0") if s else 1
    for i in range(1, len(s)):
        nxt = cur if s[i] != "0" else 0
        if 10 <= int(s[i - 1 : i + 1]) <= 26:
            nxt += prev
        prev, cur = cur, nxt
    return cur


@problem(
    "dp",
    '''
def min_path_sum(grid: list[list[int]]) -> int:
    """Return the smallest sum of the numbers along a path from the top-left to the bottom-right of
    a non-empty grid, moving only right or down.
    >>> min_path_sum([[1, 3, 1], [1, 5, 1], [4, 2, 1]])
    7
    """''',
    lambda r: ([[r.randint(0, 9) for _ in row] for row in _walls(r, "x")],),
    edge=(([[5]],),),
)
def min_path_sum(grid):
    w = len(grid[0])
    best = [0] + [float("inf")] * (w - 1)
    for row in grid:
        for j in range(w):
            best[j] = row[j] + (min(best[j], best[j - 1]) if j else best[j])
    return int(best[-1])


RANDOM_CASES = 25


@cache
def problem_cases(name: str, seed: int) -> tuple[tuple[Any, ...], ...]:
    """The argument tuples of one problem: its edge cases, then seeded random ones."""
    p = BY_NAME[name]
    rng = random.Random(f"coding:{name}:{seed}")
    return (*p.edge, *(p.gen(rng) for _ in range(RANDOM_CASES)))


BY_NAME = {p.name: p for p in PROBLEMS}
