// helix kb: knowledge bases of documents (text, Markdown, HTML, PDF, DOCX) with hybrid retrieval.
//   helix kb create NAME | add NAME PATH... | list | docs NAME | rm NAME DOC | query NAME "text"
// Bases live in $XDG_DATA_HOME/helix/kb (default ~/.local/share/helix/kb), or --kb-dir DIR.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/gen_options.h"
#include "cli/kb_answer.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "docs/document.h"
#include "knowledge/retrieval.h"
#include "knowledge/store.h"
#include "model/bert.h"

namespace fs = std::filesystem;

namespace helix::cli {
namespace {

void usage(FILE* out) {
  std::fprintf(out,
               "usage: helix kb <command> [options]\n"
               "  create NAME                 make an empty knowledge base\n"
               "  add NAME PATH...            add files or folders (recursively): .txt .md .html .pdf .docx;\n"
               "                              unchanged files are skipped, changed ones replaced,\n"
               "                              files deleted from a folder added again are removed\n"
               "  list                        the knowledge bases, with document and chunk counts\n"
               "  docs NAME                   the documents of a base\n"
               "  rm NAME DOC                 remove a document (its id, path or file name)\n"
               "  eval NAME QUESTIONS.jsonl   retrieval quality (recall@5/10, MRR) and latency; see kb eval --help\n"
               "  parse FILE... [--json]      show what is extracted from files (title, blocks, pages)\n"
               "  query NAME TEXT [-k N] [--json] [--mode hybrid|bm25|vector] [--ef-search N]\n"
               "                              passages for TEXT: BM25 + vectors fused by reciprocal rank;\n"
               "                              --ef-search: the vector index's candidate list (default 800)\n"
               "        [--points] [--analyser rules|model] [--rerank] [--show-points]\n"
               "                              the knowledge-point path (as helix ask uses it): the question\n"
               "                              analysed into points, each retrieved, all fused (RRF), each\n"
               "                              point's best passage kept; --rerank: cosine + point overlap\n"
               "options:\n"
               "  --kb-dir DIR                where bases live (default $XDG_DATA_HOME/helix/kb,\n"
               "                              i.e. ~/.local/share/helix/kb)\n"
               "  -m, --embed-model PATH      embedding model (default: the installed all-MiniLM-L6-v2)\n"
               "  -t N                        threads (default: all cores, or $HELIX_THREADS)\n");
}

// At most n bytes of s, cut at a character boundary.
std::string head(const std::string& s, size_t n) {
  if (s.size() <= n) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

struct KbArgs {
  std::string cmd, kb_dir = default_kb_dir(), model, mode = "hybrid";
  std::vector<std::string> pos;
  size_t k = 10, ef_search = 0;
  bool json = false;
  bool points = false, show_points = false, rerank = false;  // query: the knowledge-point path
  std::string analyser = "rules";
};

KbArgs parse_args(int argc, char** argv) {
  KbArgs a;
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    auto next = [&]() -> std::string {
      HELIX_CHECK(i + 1 < argc, "option ", s, " needs a value");
      return argv[++i];
    };
    if (s == "-h" || s == "--help") {
      a.cmd = "help";
      return a;
    } else if (s == "--kb-dir") {
      a.kb_dir = next();
    } else if (s == "-m" || s == "--embed-model") {
      a.model = next();
    } else if (s == "-k") {
      a.k = static_cast<size_t>(int_flag(s, next(), 1, 1000));
    } else if (s == "--ef-search") {
      a.ef_search = static_cast<size_t>(int_flag(s, next(), 1, 100000));
    } else if (s == "--json") {
      a.json = true;
    } else if (s == "--points") {
      a.points = true;
    } else if (s == "--show-points") {
      a.points = a.show_points = true;
    } else if (s == "--rerank") {
      a.points = a.rerank = true;
    } else if (s == "--analyser" || s == "--analyzer") {
      a.analyser = next();
      HELIX_CHECK(a.analyser == "rules" || a.analyser == "model", "unknown analyser '", a.analyser, "' (use rules or model)");
      a.points = true;
    } else if (s == "--mode") {
      a.mode = next();
      knowledge::parse_retrieval_mode(a.mode);
    } else if (s == "-t" || s == "--threads") {
      ThreadPool::set_global_threads(static_cast<int>(int_flag(s, next(), 1, 1024)));
    } else if (s == "--") {
      for (++i; i < argc; ++i) a.pos.emplace_back(argv[i]);
    } else if (s.size() > 1 && s[0] == '-') {
      usage(stderr);
      throw Error(cat("unknown option '", s, "'"));
    } else if (a.cmd.empty()) {
      a.cmd = s;
    } else {
      a.pos.push_back(s);
    }
  }
  return a;
}

void need(const KbArgs& a, size_t n, const char* what) {
  HELIX_CHECK(a.pos.size() == n, "kb ", a.cmd, " takes ", what, " (see helix kb --help)");
}

std::unique_ptr<model::BertEncoder> load_encoder(const KbArgs& a) {
  return model::BertEncoder::load(resolve_embed_model_path(a.model));
}

// True when a file without a type extension looks like text (no NUL byte in its first 8 KiB), as
// README, LICENSE or Debian's /usr/share/common-licenses files do.
bool looks_like_text(const fs::path& p) {
  std::FILE* f = std::fopen(p.c_str(), "rb");
  if (!f) return false;
  char buf[8192];
  const size_t n = std::fread(buf, 1, sizeof buf, f);
  std::fclose(f);
  return n > 0 && std::memchr(buf, 0, n) == nullptr;
}

// The files under the given paths: folders walked recursively (supported types, and files
// without an extension that look like text; hidden entries skipped), files taken as given;
// sorted within each folder.
std::vector<std::string> collect_files(const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(p, fs::directory_options::skip_permission_denied, ec);
           it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) break;
        const std::string name = it->path().filename().string();
        if (!name.empty() && name[0] == '.') {
          if (it->is_directory(ec)) it.disable_recursion_pending();
          continue;
        }
        if (!it->is_regular_file(ec) || !docs::is_supported(it->path().string())) continue;
        const std::string ext = it->path().extension().string();
        const bool by_name = ext.size() > 1 && ext.find_first_not_of("0123456789", 1) != std::string::npos;
        if (by_name || looks_like_text(it->path())) found.push_back(it->path().string());
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      HELIX_CHECK(fs::exists(p, ec), p, ": no such file or folder");
      files.push_back(p);
    }
  }
  return files;
}

// The ingest progress line on stderr: redrawn in place on a terminal, one line per file otherwise.
class Progress {
 public:
  explicit Progress(size_t files) : files_(files), tty_(isatty(STDERR_FILENO) != 0) {}
  void update(size_t file_index, size_t chunks, double emb_per_s, const std::string& name) {
    if (!tty_) return;
    const int width = 24;
    const int fill = files_ ? static_cast<int>(width * file_index / files_) : width;
    std::fprintf(stderr, "\r\033[K[%s%s] files %zu/%zu  chunks %zu  %.1f emb/s  %s", std::string(fill, '#').c_str(),
                 std::string(width - fill, '.').c_str(), file_index, files_, chunks, emb_per_s,
                 fs::path(name).filename().string().c_str());
    std::fflush(stderr);
  }
  void line(const std::string& s) {
    if (tty_) std::fprintf(stderr, "\r\033[K");
    std::fprintf(stderr, "%s\n", s.c_str());
  }

 private:
  size_t files_;
  bool tty_;
};

int kb_add(const KbArgs& a) {
  HELIX_CHECK(a.pos.size() >= 2, "kb add takes NAME PATH... (files or folders)");
  auto kb = knowledge::KnowledgeBase::open(a.kb_dir, a.pos[0]);
  const std::vector<std::string> files = collect_files({a.pos.begin() + 1, a.pos.end()});
  auto enc = load_encoder(a);
  kb->check_encoder(*enc);
  Progress bar(files.size());
  size_t chunks = 0, embedded = 0, added = 0, replaced = 0, unchanged = 0, failed = 0, removed = 0;
  for (auto it = a.pos.begin() + 1; it != a.pos.end(); ++it) {  // files deleted from a folder added again
    std::error_code ec;
    if (!fs::is_directory(*it, ec)) continue;
    for (const auto& d : kb->prune_missing(*it)) {
      ++removed;
      bar.line(cat("removed ", d.path, " (no longer in ", *it, ")"));
    }
  }
  double embed_s = 0;
  auto last_save = std::chrono::steady_clock::now();
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string& f = files[i];
    const double rate0 = embed_s > 0 ? embedded / embed_s : 0;
    bar.update(i, chunks, rate0, f);
    const auto t0 = std::chrono::steady_clock::now();
    try {
      const auto r = kb->add_file(f, *enc, [&](size_t done, size_t) {
        const double s = embed_s + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        bar.update(i, chunks + done, s > 0 ? (embedded + done) / s : 0, f);
      });
      chunks += r.chunks;
      embedded += r.chunks;
      embed_s += r.embed_seconds;
      (r.status == knowledge::AddResult::Added ? added : r.status == knowledge::AddResult::Replaced ? replaced : unchanged)++;
      bar.line(cat("[", i + 1, "/", files.size(), "] ", knowledge::add_status_name(r.status), " ", f,
                   r.status == knowledge::AddResult::Unchanged ? "" : cat(" (", r.chunks, " chunks)")));
    } catch (const std::exception& e) {
      ++failed;
      bar.line(cat("[", i + 1, "/", files.size(), "] skipped: ", e.what()));
    }
    if (std::chrono::steady_clock::now() - last_save > std::chrono::seconds(30)) {
      kb->save();
      last_save = std::chrono::steady_clock::now();
    }
  }
  kb->save();
  bar.line(cat("kb ", a.pos[0], ": ", added, " added, ", replaced, " replaced, ", unchanged, " unchanged, ", failed,
               " failed", removed ? cat(", ", removed, " removed (deleted from the folder)") : "", "; ", chunks,
               " chunks embedded", embed_s > 0 ? cat(" at ", static_cast<int>(embedded / embed_s), " emb/s") : "",
               "; ", kb->chunk_count(), " chunks in total"));
  return 0;
}

void print_hits(const std::vector<knowledge::Hit>& hits, bool json) {
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& h : hits)
      out.push_back({{"doc", h.doc}, {"title", h.title}, {"section", h.section}, {"page", h.page},
                     {"char_start", h.char_begin}, {"char_end", h.char_end}, {"text", h.text}, {"score", h.score},
                     {"bm25", h.bm25}, {"bm25_rank", h.bm25_rank}, {"vector", h.vector},
                     {"vector_rank", h.vector_rank}, {"chunk_id", h.chunk_id}});
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  for (size_t i = 0; i < hits.size(); ++i) {
    const auto& h = hits[i];
    std::printf("[%zu] score %.4f  bm25 %.3f (#%d)  vector %.3f (#%d)\n", i + 1, h.score, h.bm25, h.bm25_rank,
                h.vector, h.vector_rank);
    std::printf("    %s%s%s%s  chars %lld-%lld\n", h.doc.c_str(), h.page ? cat("  page ", h.page).c_str() : "",
                h.section.empty() ? "" : "  § ", h.section.c_str(), static_cast<long long>(h.char_begin),
                static_cast<long long>(h.char_end));
    std::printf("    %s\n\n", h.text.c_str());
  }
}

// kb query --points: the knowledge-point path; --json prints passage objects (doc, text, score, n,
// page, section, span, points), --show-points the analysis first (on stderr with --json).
int kb_query_points(const KbArgs& a, knowledge::KnowledgeBase& kb) {
  std::unique_ptr<model::BertEncoder> enc;
  if (a.mode != "bm25") {
    enc = load_encoder(a);
    kb.check_encoder(*enc);
  }
  HELIX_CHECK(a.mode != "vector", "--points fuses BM25 and vectors; --mode vector is for plain queries");
  std::unique_ptr<AnswerModel> llm;
  if (a.analyser == "model") llm = std::make_unique<AnswerModel>(load_answer_model(GenOptions{}, true));
  const knowledge::Analysis an = analyse_question(a.pos[1], a.analyser, llm.get());
  if (a.show_points) {
    std::FILE* out = a.json ? stderr : stdout;
    std::fprintf(out, "knowledge points (%s):\n", an.analyser.c_str());
    for (const auto& p : an.points) std::fprintf(out, "  %-12s %s\n", knowledge::point_kind_name(p.kind), p.text.c_str());
    std::fprintf(out, "\n");
  }
  knowledge::PointQueryOptions o;
  o.k = a.k;
  o.rerank = a.rerank;
  o.ef_search = a.ef_search;
  const auto ps = knowledge::retrieve_points(kb, enc.get(), an, o);
  if (a.json) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& p : ps) out.push_back(knowledge::passage_json(p, &an));
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::vector<knowledge::Hit> hits;
  for (const auto& p : ps) hits.push_back(p.hit);
  print_hits(hits, false);
  return 0;
}

int kb_query(const KbArgs& a) {
  need(a, 2, "NAME TEXT");
  auto kb = knowledge::KnowledgeBase::open(a.kb_dir, a.pos[0]);
  if (a.points) return kb_query_points(a, *kb);
  knowledge::QueryOptions o;
  o.k = a.k;
  o.mode = knowledge::parse_retrieval_mode(a.mode);
  o.ef_search = a.ef_search;
  std::unique_ptr<model::BertEncoder> enc;
  if (o.mode != knowledge::RetrievalMode::Bm25) {
    enc = load_encoder(a);
    kb->check_encoder(*enc);
  }
  print_hits(knowledge::retrieve(*kb, enc.get(), a.pos[1], o), a.json);
  return 0;
}

int kb_docs(const KbArgs& a) {
  need(a, 1, "NAME");
  auto kb = knowledge::KnowledgeBase::open(a.kb_dir, a.pos[0]);
  const auto docs = kb->docs();
  if (a.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& d : docs)
      out.push_back({{"id", d.id}, {"path", d.path}, {"title", d.title}, {"format", d.format}, {"pages", d.pages},
                     {"chunks", d.chunks}, {"bytes", d.bytes}, {"sha256", d.sha256}, {"added", d.added}});
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("%-5s %-7s %-6s %-9s %-30s %s\n", "id", "chunks", "pages", "format", "title", "path");
  for (const auto& d : docs)
    std::printf("%-5lld %-7lld %-6lld %-9s %-30s %s\n", static_cast<long long>(d.id), static_cast<long long>(d.chunks),
                static_cast<long long>(d.pages), d.format.c_str(), head(d.title, 30).c_str(), d.path.c_str());
  return 0;
}

int kb_list(const KbArgs& a) {
  need(a, 0, "no arguments");
  const auto names = knowledge::KnowledgeBase::list(a.kb_dir);
  if (names.empty()) std::fprintf(stderr, "no knowledge bases in %s; make one with: helix kb create NAME\n", a.kb_dir.c_str());
  for (const auto& n : names) {
    auto kb = knowledge::KnowledgeBase::open(a.kb_dir, n);
    std::printf("%-24s %6zu docs %8lld chunks\n", n.c_str(), kb->docs().size(), static_cast<long long>(kb->chunk_count()));
  }
  return 0;
}

int kb_parse(const KbArgs& a) {
  HELIX_CHECK(!a.pos.empty(), "kb parse takes FILE...");
  nlohmann::json all = nlohmann::json::array();
  for (const auto& f : a.pos) {
    const docs::Document d = docs::parse_file(f);
    nlohmann::json blocks = nlohmann::json::array();
    for (const auto& b : d.blocks)
      blocks.push_back({{"kind", docs::block_kind_name(b.kind)}, {"level", b.level}, {"page", b.page},
                        {"heading_path", b.heading_path}, {"text", b.text}});
    all.push_back({{"path", d.path}, {"title", d.title}, {"format", d.format}, {"pages", d.pages}, {"blocks", blocks}});
    if (a.json) continue;
    std::printf("%s: %s \"%s\"%s\n", d.path.c_str(), d.format.c_str(), d.title.c_str(),
                d.pages ? cat(", ", d.pages, " pages").c_str() : "");
    for (const auto& b : d.blocks)
      std::printf("  %-9s %s%s\n", docs::block_kind_name(b.kind), b.page ? cat("p", b.page, " ").c_str() : "",
                  head(b.text, 100).c_str());
  }
  if (a.json) std::printf("%s\n", all.dump(2).c_str());
  return 0;
}

}  // namespace

int cmd_kb(int argc, char** argv) {
  if (kb_subcommand(argc, argv) == "eval") return cmd_kb_eval(argc, argv);
  const KbArgs a = parse_args(argc, argv);
  if (a.cmd == "help") {
    usage(stdout);
    return 0;
  }
  if (a.cmd == "create") {
    need(a, 1, "NAME");
    knowledge::KnowledgeBase::check_name(a.pos[0]);
    auto enc = load_encoder(a);
    knowledge::KnowledgeBase::create(a.kb_dir, a.pos[0], *enc);
    std::fprintf(stderr, "created knowledge base '%s' in %s\n", a.pos[0].c_str(), a.kb_dir.c_str());
    return 0;
  }
  if (a.cmd == "add") return kb_add(a);
  if (a.cmd == "list") return kb_list(a);
  if (a.cmd == "docs") return kb_docs(a);
  if (a.cmd == "query") return kb_query(a);
  if (a.cmd == "parse") return kb_parse(a);
  if (a.cmd == "rm") {
    need(a, 2, "NAME DOC");
    auto kb = knowledge::KnowledgeBase::open(a.kb_dir, a.pos[0]);
    const auto d = kb->find_doc(a.pos[1]);
    kb->remove_doc(d.id);
    kb->save();
    std::fprintf(stderr, "removed %s (%lld chunks)\n", d.path.c_str(), static_cast<long long>(d.chunks));
    return 0;
  }
  usage(stderr);
  throw Error(a.cmd.empty() ? std::string("give a kb command") : cat("unknown kb command '", a.cmd, "'"));
}

}  // namespace helix::cli
