// HTML into the document model with libxml2's forgiving HTML parser: h1-h6 become headings,
// p/div/blockquote paragraphs, li list items, pre code blocks, table rows "cell | cell" lines;
// script, style, nav-like noise (script, style, noscript, template, svg) is dropped; <title> is
// the title.
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include <cstring>
#include <functional>
#include <memory>
#include <string>

#include "core/error.h"
#include "docs/document.h"

namespace helix::docs {
namespace {

bool name_is(const xmlNode* n, const char* name) {
  return n->name && std::strcmp(reinterpret_cast<const char*>(n->name), name) == 0;
}

bool name_in(const xmlNode* n, std::initializer_list<const char*> names) {
  for (const char* s : names)
    if (name_is(n, s)) return true;
  return false;
}

// All text under n (pre keeps its whitespace; the caller collapses where it should).
void collect_text(const xmlNode* n, std::string& out) {
  for (const xmlNode* c = n; c; c = c->next) {
    if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
      if (c->content) out += reinterpret_cast<const char*>(c->content);
    } else if (c->type == XML_ELEMENT_NODE) {
      if (name_in(c, {"script", "style", "noscript", "template", "svg"})) continue;
      if (name_is(c, "br")) out += '\n';
      const bool cell = name_in(c, {"td", "th"});
      const bool block = name_in(c, {"p", "div", "li", "tr"});
      if (block && !out.empty()) out += '\n';
      collect_text(c->children, out);
      if (cell) out += " | ";
    }
  }
}

class HtmlWalker {
 public:
  explicit HtmlWalker(DocumentBuilder& b) : b_(b) {}

  void walk(const xmlNode* n) {
    for (; n; n = n->next) {
      if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
        if (n->content) inline_ += reinterpret_cast<const char*>(n->content);
        continue;
      }
      if (n->type != XML_ELEMENT_NODE) continue;
      element(n);
    }
  }

  void flush() {
    b_.add(BlockKind::Paragraph, inline_);
    inline_.clear();
  }

 private:
  void element(const xmlNode* n) {
    if (name_in(n, {"script", "style", "noscript", "template", "svg", "head"})) return;
    const char* nm = reinterpret_cast<const char*>(n->name);
    if (std::strlen(nm) == 2 && nm[0] == 'h' && nm[1] >= '1' && nm[1] <= '6') {
      flush();
      std::string t;
      collect_text(n->children, t);
      b_.heading(nm[1] - '0', t);
    } else if (name_is(n, "pre")) {
      flush();
      std::string t;
      collect_text(n->children, t);
      b_.add(BlockKind::Code, t);
    } else if (name_is(n, "li") || name_in(n, {"dt", "dd"})) {
      flush();
      std::string t;
      collect_text(n->children, t);
      b_.add(BlockKind::ListItem, t);
    } else if (name_is(n, "table")) {
      flush();
      table(n);
    } else if (name_is(n, "br")) {
      inline_ += ' ';
    } else if (name_in(n, {"p", "div", "blockquote", "section", "article", "main", "header", "footer", "ul", "ol",
                           "dl", "nav", "aside", "figure", "figcaption", "body", "html", "form", "address"})) {
      flush();
      walk(n->children);
      flush();
    } else {
      walk(n->children);  // inline: a, b, i, span, code, em, strong, ...
    }
  }

  void table(const xmlNode* t) {
    std::string rows;
    std::function<void(const xmlNode*)> visit = [&](const xmlNode* n) {
      for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) continue;
        if (name_is(n, "tr")) {
          std::string row;
          for (const xmlNode* c = n->children; c; c = c->next) {
            if (c->type != XML_ELEMENT_NODE || !name_in(c, {"td", "th"})) continue;
            std::string cell;
            collect_text(c->children, cell);
            if (!row.empty()) row += " | ";
            row += collapse_spaces(cell);
          }
          if (!row.empty()) rows += row + "\n";
        } else {
          visit(n->children);  // thead, tbody, tfoot
        }
      }
    };
    visit(t->children);
    b_.add(BlockKind::Table, rows);
  }

  DocumentBuilder& b_;
  std::string inline_;
};

const xmlNode* find_element(const xmlNode* n, const char* name) {
  for (; n; n = n->next) {
    if (n->type == XML_ELEMENT_NODE && name_is(n, name)) return n;
    if (const xmlNode* f = find_element(n->children, name)) return f;
  }
  return nullptr;
}

}  // namespace

Document parse_html(std::string_view data, const std::string& path) {
  HELIX_CHECK(data.find('\0') == std::string_view::npos, path, ": looks like a binary file, not HTML (NUL byte)");
  const int opts = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET;
  std::unique_ptr<xmlDoc, void (*)(xmlDocPtr)> doc(
      htmlReadMemory(data.data(), static_cast<int>(data.size()), path.c_str(), "UTF-8", opts), xmlFreeDoc);
  HELIX_CHECK(doc, path, ": not readable as HTML");
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  HELIX_CHECK(root, path, ": empty HTML document");
  DocumentBuilder b(path, "html");
  if (const xmlNode* t = find_element(root, "title")) {
    std::string title;
    collect_text(t->children, title);
    b.set_title(title);
  }
  HtmlWalker w(b);
  w.walk(root);
  w.flush();
  return b.finish();
}

}  // namespace helix::docs
