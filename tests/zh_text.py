"""A seeded generator of Chinese prose for the long-document tests (nothing downloaded).

Sentences are built from small word lists, with clauses joined by `，`, ending in `。！？`, some
quoted (“…”). A page is about PAGE_CHARS characters in paragraphs of 3-6 sentences. The facts
that questions ask about use words found nowhere else, so a search for them can only land on
their own passage.
"""

import random

PAGE_CHARS = 600  # a printed page of Chinese text holds about 600-800 characters

SUBJECTS = ["市政府", "研究小组", "这家工厂", "当地居民", "学校的老师们", "河边的农民", "年轻的工程师", "博物馆的工作人员",
            "铁路公司", "社区委员会", "医院的医生", "村里的老人"]  # fmt: skip
VERBS = ["讨论了", "完成了", "修建了", "调查了", "改进了", "记录了", "提出了", "支持了", "检查了", "整理了"]
OBJECTS = ["新的交通计划", "河道的治理方案", "一座小型水电站", "农田的灌溉系统", "城市的垃圾分类办法", "老街的修复工程",
           "夏季的防洪准备", "学生的课外活动", "一份详细的年度报告", "公园里的绿化项目"]  # fmt: skip
TIMES = ["去年春天", "上个月", "在过去的三年里", "今年年初", "周末的时候", "前几天", "在那段时间", "从那以后"]
TAILS = ["大家都觉得很有意义", "结果比预想的要好", "但是还有一些问题没有解决", "这让很多人感到意外", "过程并不容易",
         "有关部门表示会继续跟进", "附近的商店也因此受益", "不少人在会上发表了意见"]  # fmt: skip
ENDS = "。。。。。！？"

# (fact sentence, question, words of the answer): their words appear in no list above
FACTS = [
    ("青石镇图书馆的新馆长名叫林晓岚，她在二〇一九年九月正式上任。", "青石镇图书馆的新馆长叫什么名字？", "林晓岚"),
    ("据统计，翠湖大桥的总长度为一千八百六十米，耗资四亿七千万元。", "翠湖大桥有多长？", "一千八百六十米"),
]


def sentence(rng: random.Random) -> str:
    clauses = [f"{rng.choice(TIMES)}，{rng.choice(SUBJECTS)}{rng.choice(VERBS)}{rng.choice(OBJECTS)}"]
    clauses += [rng.choice(TAILS) for _ in range(rng.randint(0, 2))]
    text = "，".join(clauses) + rng.choice(ENDS)
    if rng.random() < 0.1:
        text = f"有人说：“{text}”"
    return text


def paragraph(rng: random.Random) -> str:
    return "".join(sentence(rng) for _ in range(rng.randint(3, 6)))


def document(pages: int, seed: int = 0, facts: dict[int, str] | None = None) -> str:
    """`pages` pages of paragraphs separated by blank lines; `facts` puts a sentence into the
    middle paragraph of the given page."""
    rng = random.Random(f"zh:{seed}")
    out: list[str] = []
    for page in range(pages):
        paras: list[str] = []
        while sum(len(p) for p in paras) < PAGE_CHARS:
            paras.append(paragraph(rng))
        if facts and page in facts:
            middle = len(paras) // 2
            paras[middle] = paras[middle] + facts[page] + sentence(rng)
        out += paras
    return "\n\n".join(out)


def run_on(rng: random.Random, chars: int, separator: str = "，") -> str:
    """One paragraph of about `chars` characters with no sentence end at all (clauses only, or with
    separator="" no punctuation whatever)."""
    parts: list[str] = []
    while sum(len(p) + len(separator) for p in parts) < chars:
        parts.append(f"{rng.choice(SUBJECTS)}{rng.choice(VERBS)}{rng.choice(OBJECTS)}")
    return separator.join(parts)
