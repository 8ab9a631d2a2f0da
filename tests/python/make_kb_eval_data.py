"""Writes the retrieval evaluation's corpus and questions (tests/python/data/kb_eval/).

Corpus (real documents a Debian machine has):
  - licences: /usr/share/common-licenses (package base-files, on every Debian machine; read in place,
    not committed), listed in LICENCES;
  - English man pages rendered to text by man-db (`man --nh --nj`, 80 columns): corpus/man/*.txt;
  - Chinese: man pages of shadow and man-db in /usr/share/man/zh_CN rendered the same way, the
    Chinese Vim tutor (vim-runtime) and GnuPG's Chinese help text: corpus/zh/*.txt.
The rendered and copied files are committed (they need man-db, vim and gnupg, which a fresh machine
may lack); VERSIONS names the packages they came from.

Questions (questions.jsonl, one {"id", "lang", "kind", "q", "doc", "answer"} per line): written by
hand-made templates over the documents' real content (each man page's option list: "what does
--OPTION of CMD do", "how do I <the option's own description> with CMD") plus hand-written questions
over the licences and the Vim tutor. `answer` is a piece of text the relevant passage contains; a
retrieved passage counts as relevant when it comes from `doc` and contains `answer` (whitespace
ignored). Every answer is checked to occur in its document here. No model wrote any of it.

    python3 tests/python/make_kb_eval_data.py          # rewrites corpus/ (needs man-db) and questions
    python3 tests/python/make_kb_eval_data.py --questions-only
"""
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent / "data" / "kb_eval"
LICENSE_DIR = pathlib.Path("/usr/share/common-licenses")
LICENCES = ["Apache-2.0", "Artistic", "BSD", "CC0-1.0", "GPL-2", "GPL-3", "LGPL-3", "MPL-2.0", "GFDL-1.3"]
MAN_EN = ["ls", "cp", "mv", "rm", "mkdir", "chmod", "chown", "ln", "touch", "sort", "uniq", "wc", "head", "tail",
          "df", "du", "date", "diff", "sed", "gzip", "kill"]
MAN_ZH = ["passwd", "chage", "useradd", "userdel", "usermod", "groupadd", "groupmod", "gpasswd", "su", "lastlog",
          "faillog", "chsh", "chfn", "newgrp"]
ZH_FILES = {"vimtutor.zh_cn.txt": "/usr/share/vim/vim90/tutor/tutor.zh_cn.utf-8",
            "gnupg_help.zh_CN.txt": "/usr/share/gnupg/help.zh_CN.txt"}

# Hand-written questions over the licences: (question, licence, a piece of the passage that answers it).
LICENCE_QA = [
    ("How many days after notice does a licensee have to cure a violation of the GPL version 3?", "GPL-3",
     "you cure the violation prior to 30 days after"),
    ("Under GPLv3, when is a licence from a copyright holder reinstated provisionally after a violation stops?",
     "GPL-3", "provisionally, unless and until the copyright holder explicitly and finally terminates"),
    ("What does the GPL-3 say about anti-circumvention laws and technological measures?", "GPL-3",
     "Protecting Users' Legal Rights From Anti-Circumvention Law"),
    ("What are Installation Information for a User Product in GPLv3?", "GPL-3",
     "\"Installation Information\" for a User Product means"),
    ("How can object code be conveyed through peer-to-peer transmission under the GPL 3?", "GPL-3",
     "peer-to-peer transmission"),
    ("What is the definition of a covered work in the GNU General Public License version 3?", "GPL-3",
     "A \"covered work\" means either the unmodified Program or a work based"),
    ("How long must a written offer to provide the Corresponding Source remain valid under GPLv3?", "GPL-3",
     "valid for at least three years"),
    ("Can additional permissions be removed when you convey a copy of a GPL-3 work?", "GPL-3",
     "you may at your option remove any additional permissions"),
    ("What does the GPLv3 patent license grant each contributor gives?", "GPL-3",
     "Each contributor grants you a non-exclusive, worldwide, royalty-free patent license"),
    ("How do I apply the GPL to my new program, what notices should I attach?", "GPL-3",
     "How to Apply These Terms to Your New Programs"),
    ("What should an interactive program print when it starts under the GPL 3?", "GPL-3",
     "This program comes with ABSOLUTELY NO WARRANTY; for details type"),
    ("Is the GNU Affero General Public License compatible with GPLv3 combination?", "GPL-3",
     "Use with the GNU Affero General Public License"),
    ("What happens under GPL version 2 if a court judgment imposes conditions that contradict the licence?",
     "GPL-2", "If, as a consequence of a court judgment or allegation of patent"),
    ("Under GPL-2, may I charge a fee for the physical act of transferring a copy?", "GPL-2",
     "You may charge a fee for the physical act of transferring a copy"),
    ("What must a modified program that reads commands interactively announce under GPL 2?", "GPL-2",
     "If the modified program normally reads commands interactively"),
    ("What is the GPL version 2 rule about accepting the license by modifying or distributing?", "GPL-2",
     "by modifying or distributing the Program (or any work based on the"),
    ("Under GPL v2, what source code must accompany executables, including scripts used to control compilation?",
     "GPL-2", "plus the scripts used to control compilation"),
    ("How does the Apache License 2.0 define a Contribution?", "Apache-2.0",
     "\"Contribution\" shall mean any work of authorship"),
    ("When does the patent license under Apache 2.0 terminate because of patent litigation?", "Apache-2.0",
     "institute patent litigation against any entity"),
    ("What must be done with a NOTICE text file when redistributing Apache-licensed work?", "Apache-2.0",
     "If the Work includes a \"NOTICE\" text file as part of its"),
    ("Does the Apache License grant permission to use the Licensor's trademarks?", "Apache-2.0",
     "This License does not grant permission to use the trade"),
    ("Can I offer warranty or support for a fee when redistributing under Apache License 2.0?", "Apache-2.0",
     "Accepting Warranty or Additional Liability"),
    ("How should the Apache License boilerplate notice be applied to my work?", "Apache-2.0",
     "APPENDIX: How to apply the Apache License to your work"),
    ("Must modified files carry prominent notices stating that you changed them under Apache 2.0?", "Apache-2.0",
     "You must cause any modified files to carry prominent notices"),
    ("How many days do I have to become compliant after notice of non-compliance under the Mozilla Public License 2.0?",
     "MPL-2.0", "You become compliant prior to 30 days after"),
    ("What is a Larger Work in the Mozilla Public License?", "MPL-2.0", "\"Larger Work\""),
    ("Which licenses count as Secondary Licenses under MPL 2.0?", "MPL-2.0",
     "means either the GNU General Public License, Version 2.0"),
    ("What must I do when I distribute Covered Software in Executable Form under MPL?", "MPL-2.0",
     "If You distribute Covered Software in Executable Form then"),
    ("What is Exhibit B, the Incompatible With Secondary Licenses notice, in the Mozilla license?", "MPL-2.0",
     "Exhibit B - \"Incompatible With Secondary Licenses\" Notice"),
    ("Who may publish new versions of the Mozilla Public License?", "MPL-2.0",
     "Mozilla Foundation is the license steward"),
    ("Under the MPL 2.0, what happens to licenses if You initiate litigation alleging patent infringement?",
     "MPL-2.0", "If You initiate litigation against any entity by asserting a patent"),
    ("What are the three conditions for redistribution in the BSD license?", "BSD",
     "Redistributions of source code must retain the above copyright"),
    ("May the name of the University be used to endorse products derived from BSD-licensed software?", "BSD",
     "Neither the name of the University nor the names of its contributors"),
    ("What is the Standard Version in the Artistic License?", "Artistic",
     "\"Standard Version\" refers to such a Package if it has not been"),
    ("Can I charge a reasonable copying fee for a Package under the Artistic License?", "Artistic",
     "You may charge a reasonable copying fee"),
    ("Under the Artistic License, may I use the name of the Copyright Holder to promote derived products?",
     "Artistic", "The name of the Copyright Holder may not be used to endorse or promote"),
    ("What does the Affirmer waive in Creative Commons CC0?", "CC0-1.0",
     "Affirmer hereby overtly, fully, permanently"),
    ("What is the public license fallback of CC0 1.0 if the waiver is invalid?", "CC0-1.0", "Public License Fallback"),
    ("Does CC0 affect the patent or trademark rights held by the Affirmer?", "CC0-1.0",
     "No trademark or patent rights held by Affirmer are waived"),
    ("What are Invariant Sections in the GNU Free Documentation License?", "GFDL-1.3",
     "The \"Invariant Sections\" are certain Secondary Sections"),
    ("When must copies in quantity of a document under the GFDL have covers with Cover Texts?", "GFDL-1.3",
     "numbering more than 100"),
    ("What is a Transparent copy versus an Opaque copy in the GNU FDL?", "GFDL-1.3", "is called \"Opaque\""),
    ("What is a Massive Multiauthor Collaboration Site under GFDL 1.3?", "GFDL-1.3",
     "\"Massive Multiauthor Collaboration Site\""),
    ("How may I combine a document with other documents released under the FDL?", "GFDL-1.3",
     "COMBINING DOCUMENTS"),
    ("What does the LGPL 3 call an Application and a Combined Work?", "LGPL-3",
     "A \"Combined Work\" is a work produced by combining or linking an"),
    ("Under the GNU Lesser GPL version 3, what may object code incorporate from header files?", "LGPL-3",
     "Object Code Incorporating Material from Library Header Files"),
    ("What may I do when combining Libraries under the Lesser General Public License?", "LGPL-3",
     "Combined Libraries"),
]

# Hand-written questions over the Chinese Vim tutor: (question, a piece of the passage that answers it).
VIMTUTOR_QA = [
    ("在 Vim 中如何移动光标？", "要移动光标，请依照说明分别按下 h、j、k、l 键"),
    ("怎样退出 Vim 并丢弃所有改动？", "这种方式的退出编辑器会丢弃您进入编辑器以来所做的改动"),
    ("在正常模式下怎样删除光标所在位置的字符？", "可以按下 x 键来删除光标所在位置的字符"),
    ("如何在 Vim 里插入文本？", "可以按下 i 键来插入文本"),
    ("怎样在行末添加文本？", "按 A 键以添加文本"),
    ("完成本教程大约需要多少时间？", "完成本教程的内容大约需要25-30分钟"),
    ("如何保存文件并退出 Vim？", "使用 :wq 以保存文件并退出"),
    ("删除一个单词应该用什么命令？", "输入 dw 可以从光标处删除至一个单词的末尾"),
    ("怎样删除从光标到行末的内容？", "输入 d$ 从当前光标删除到行末"),
    ("怎样让一个动作重复多次？", "在动作前输入数字会使它重复那么多次"),
    ("如何撤销最后执行的命令？", "输入 u 来撤消最后执行的命令"),
    ("怎样删除一整行？", "输入 dd 可以删除整一个当前行"),
    ("如何把删除的内容放到光标之后？", "输入 p 将最后一次删除的内容置入光标之后"),
    ("怎样替换光标所在位置的字符？", "输入 r 和一个字符替换光标所在位置的字符"),
    ("怎样改变文本直到一个单词的末尾？", "要改变文本直到一个单词的末尾，请输入 ce"),
    ("怎么显示当前光标所在行位置和文件状态？", "CTRL-G 用于显示当前光标所在位置和文件状态信息"),
    ("如何跳到文件的第一行？", "gg 用于将光标跳转至文件第一行"),
    ("如何在文件中查找一个字符串？", "加上一个字符串可以用以在当前文件中查找该字符串"),
    ("怎样反向查找字符串？", "则是在当前所编辑的文档中反向查找该字符串"),
    ("怎样查找配对的括号？", "输入 % 可以查找配对的括号"),
    ("怎样在一行内替换第一个 old 为 new？", "在一行内替换头一个字符串 old 为新的字符串 new"),
    ("如何在整个文件中替换所有匹配的字符串？", "在文件内替换所有的字符串 old 为新的字符串 new"),
    ("全文替换时怎样让 Vim 询问确认每个替换？", "进行全文替换时询问用户确认每个替换需添加 c 标志"),
    ("如何在 Vim 中执行一个外部命令？", "然后紧接着输入一个外部命令可以执行该外部命令"),
    ("怎样把对文件的改动保存到另一个文件中？", "要将对文件的改动保存到文件中，请输入 :w FILENAME"),
    ("怎样只保存文件的部分内容？", "要保存文件的部分内容，请输入 v motion :w FILENAME"),
    ("怎样向当前文件中插入另外一个文件的内容？", "要向当前文件中插入另外的文件的内容，请输入 :r FILENAME"),
    ("如何在光标下方打开新的一行并进入插入模式？", "输入 o 将在光标的下方打开新的一行并进入插入模式"),
    ("怎样在光标之后插入文本？", "输入 a 将可在光标之后插入文本"),
    ("怎样连续替换多个字符？", "输入大写的 R 可连续替换多个字符"),
    ("怎样复制和粘贴文本？", "使用操作符 y 复制文本，使用 p 粘贴文本"),
    ("如何设置查找时忽略字母大小写？", "设置可使查找或者替换可忽略大小写的选项"),
    ("怎样高亮显示所有的匹配短语？", "高亮显示所有的匹配短语"),
    ("怎么打开帮助窗口？", "可以打开帮助窗口"),
    ("怎样在窗口之间跳转？", "可以使您在窗口之间跳转"),
    ("怎样创建一个启动脚本保存偏好的设置？", "您可以创建一个 vimrc 启动脚本文件用来保存您偏好的设置"),
    ("命令行模式下怎样补全命令？", "使用 CTRL-D 和 <TAB> 可以进行命令行补全"),
]

GNUPG_QA = [
    ("GnuPG 中的信任度是什么意思？", "edit_ownertrust.value"),
    ("生成密钥时要输入什么用户标识？", "keygen.name"),
    ("密钥的有效期怎么设置？", "keygen.valid"),
]


def normalize(s):
    return re.sub(r"\s+", "", s)


def render_man(name, lang=None):
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
    cmd = ["man", "--nh", "--nj"] + (["-L", lang] if lang else []) + [name]
    raw = subprocess.run(cmd, env=env, capture_output=True, check=True).stdout
    return subprocess.run(["col", "-bx"], input=raw, capture_output=True, check=True).stdout.decode()


def man_options(text):
    """(option line, first line of its description) for each option entry of a rendered man page."""
    out = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^ {7}(-[^ ].*?)(?: {2,}(\S.*))?$", line)
        if not m:
            continue
        desc = m.group(2) or ""
        j = i + 1
        while j < len(lines) and re.match(r"^ {11,}\S", lines[j]) and len(desc) < 200:
            desc += " " + lines[j].strip()
            j += 1
        desc = desc.strip()
        if desc:
            out.append((m.group(1).strip(), desc))
    return out


def first_clause(desc, zh):
    cut = re.split(r"[。；;]|\. |, (?:and|or) " if not zh else r"[。；;，,（(]", desc)[0].strip().rstrip(".")
    return cut


def option_name(opt):
    names = [o.strip() for o in re.split(r",\s*", opt)]
    long = [n for n in names if n.startswith("--")]
    return re.split(r"[=\[ ]", (long or names)[0])[0]


def spread(items, n):
    """n items spread evenly over the list (all of them when there are fewer)."""
    if len(items) <= n:
        return items
    return [items[round(i * (len(items) - 1) / (n - 1))] for i in range(n)]


def option_questions(name, text, zh, n=6):
    """(kind, question, answer) for up to n options spread over the page's option list; the answer is
    the option line with the start of its description, which identifies its passage."""
    opts = []
    for opt, desc in man_options(text):
        clause = first_clause(desc, zh)
        if option_name(opt) in ("--help", "--version", "-h", "-V") or len(clause) < (4 if zh else 12):
            continue
        if zh and not re.search(r"[\u4e00-\u9fff]", clause):
            continue
        opts.append((opt, desc, clause))
    qs = []
    for k, (opt, desc, clause) in enumerate(spread(opts, n)):
        if zh:
            q = f"{name} 命令的 {option_name(opt)} 选项有什么作用？" if k % 2 == 0 else f"使用 {name} 时，怎样{clause}？"
        elif k % 2 == 0:
            q = f"What does the {option_name(opt)} option of {name} do?"
        else:
            q = f"Which option of {name} would {clause[0].lower() + clause[1:]}?"
        qs.append(("man-option-zh" if zh else "man-option", q, opt + " " + desc[:30]))
    return qs


def write_corpus():
    (HERE / "corpus" / "man").mkdir(parents=True, exist_ok=True)
    (HERE / "corpus" / "zh").mkdir(parents=True, exist_ok=True)
    for name in MAN_EN:
        (HERE / "corpus" / "man" / f"{name}.1.txt").write_text(render_man(name))
    for name in MAN_ZH:
        (HERE / "corpus" / "zh" / f"{name}.zh_CN.txt").write_text(render_man(name, "zh_CN"))
    for dst, src in ZH_FILES.items():
        shutil.copy(src, HERE / "corpus" / "zh" / dst)
    pkgs = ["man-db", "coreutils", "sed", "gzip", "diffutils", "procps", "util-linux", "passwd", "login",
            "manpages-zh", "vim-runtime", "gnupg", "base-files"]
    ver = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}\n"] + pkgs, capture_output=True).stdout
    (HERE / "VERSIONS").write_text("Rendered with `man --nh --nj` (MANWIDTH=80) | col -bx from these packages:\n" +
                                   ver.decode())


def corpus_files():
    files = {name: LICENSE_DIR / name for name in LICENCES}
    for sub in ["man", "zh"]:
        for p in sorted((HERE / "corpus" / sub).iterdir()):
            files[p.name] = p
    return files


def write_questions():
    files = corpus_files()
    rows = []
    for q, doc, ans in LICENCE_QA:
        rows.append(("en", "licence", q, doc, ans))
    for name in MAN_EN:
        doc = f"{name}.1.txt"
        for kind, q, ans in option_questions(name, files[doc].read_text(), zh=False):
            rows.append(("en", kind, q, doc, ans))
    for name in MAN_ZH:
        doc = f"{name}.zh_CN.txt"
        for kind, q, ans in option_questions(name, files[doc].read_text(), zh=True):
            rows.append(("zh", kind, q, doc, ans))
    for q, ans in VIMTUTOR_QA:
        rows.append(("zh", "tutorial", q, "vimtutor.zh_cn.txt", ans))
    for q, ans in GNUPG_QA:
        rows.append(("zh", "help", q, "gnupg_help.zh_CN.txt", ans))
    bad = [r for r in rows if normalize(r[4]) not in normalize(files[r[3]].read_text())]
    if bad:
        sys.exit("answers not found in their documents:\n" + "\n".join(map(str, bad)))
    with open(HERE / "questions.jsonl", "w") as f:
        for i, (lang, kind, q, doc, ans) in enumerate(rows):
            f.write(json.dumps({"id": i + 1, "lang": lang, "kind": kind, "q": q, "doc": doc, "answer": ans},
                               ensure_ascii=False) + "\n")
    by = {}
    for r in rows:
        by[(r[0], r[1])] = by.get((r[0], r[1]), 0) + 1
    print(f"{len(rows)} questions:", ", ".join(f"{k[0]}/{k[1]} {v}" for k, v in sorted(by.items())))


if __name__ == "__main__":
    if "--questions-only" not in sys.argv:
        write_corpus()
    write_questions()
