// DOCX (Office Open XML) into the document model: the zip is opened with libzip, then
// word/document.xml and docProps/core.xml are read with pugixml. Paragraph styles Title and
// Heading1..9 become headings, numbered or list-styled paragraphs list items, w:tbl tables
// "cell | cell" rows.
#include <pugixml.hpp>
#include <zip.h>

#include <cstring>
#include <memory>
#include <string>

#include "core/error.h"
#include "docs/document.h"

namespace helix::docs {
namespace {

struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};

// The bytes of one member of the archive, or false when it is not there.
bool read_member(zip_t* z, const char* name, std::string& out, const std::string& path) {
  zip_stat_t st;
  if (zip_stat(z, name, 0, &st) != 0) return false;
  std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> f(zip_fopen(z, name, 0), zip_fclose);
  HELIX_CHECK(f, path, ": damaged DOCX (cannot open ", name, " in the zip)");
  out.resize(st.size);
  const zip_int64_t n = zip_fread(f.get(), out.data(), st.size);
  HELIX_CHECK(n >= 0 && static_cast<zip_uint64_t>(n) == st.size, path, ": damaged DOCX (cannot read ", name, ")");
  return true;
}

// A paragraph's text: runs' w:t, tabs and breaks, in order (also inside hyperlinks and fields).
void para_text(const pugi::xml_node& n, std::string& out) {
  for (const pugi::xml_node& c : n.children()) {
    const char* nm = c.name();
    if (std::strcmp(nm, "w:t") == 0) {
      out += c.text().get();
    } else if (std::strcmp(nm, "w:tab") == 0) {
      out += '\t';
    } else if (std::strcmp(nm, "w:br") == 0 || std::strcmp(nm, "w:cr") == 0) {
      out += '\n';
    } else if (std::strcmp(nm, "w:pPr") != 0 && std::strcmp(nm, "w:rPr") != 0 && std::strcmp(nm, "w:delText") != 0) {
      para_text(c, out);
    }
  }
}

// Heading level of a style id ("Title" -> 1, "Heading2" -> 2, ...), 0 when none.
int heading_level(const std::string& style) {
  if (style == "Title") return 1;
  if (style.rfind("Heading", 0) == 0 && style.size() == 8 && style[7] >= '1' && style[7] <= '9')
    return style[7] - '0';
  return 0;
}

void table(const pugi::xml_node& tbl, DocumentBuilder& b) {
  std::string rows;
  for (const pugi::xml_node& tr : tbl.children("w:tr")) {
    std::string row;
    for (const pugi::xml_node& tc : tr.children("w:tc")) {
      std::string cell;
      for (const pugi::xml_node& p : tc.children("w:p")) {
        if (!cell.empty()) cell += ' ';
        para_text(p, cell);
      }
      if (!row.empty()) row += " | ";
      row += collapse_spaces(cell);
    }
    rows += row + "\n";
  }
  b.add(BlockKind::Table, rows);
}

void body(const pugi::xml_node& parent, DocumentBuilder& b, bool& title_from_style) {
  for (const pugi::xml_node& n : parent.children()) {
    if (std::strcmp(n.name(), "w:tbl") == 0) {
      table(n, b);
    } else if (std::strcmp(n.name(), "w:sdt") == 0) {
      body(n.child("w:sdtContent"), b, title_from_style);
    } else if (std::strcmp(n.name(), "w:p") == 0) {
      const pugi::xml_node ppr = n.child("w:pPr");
      const std::string style = ppr.child("w:pStyle").attribute("w:val").value();
      std::string text;
      para_text(n, text);
      if (const int level = heading_level(style)) {
        if (style == "Title" && !title_from_style) {
          b.set_title(text);
          title_from_style = true;
        }
        b.heading(level, text);
      } else if (ppr.child("w:numPr") || style.find("List") != std::string::npos) {
        b.add(BlockKind::ListItem, text);
      } else {
        b.add(BlockKind::Paragraph, text);
      }
    }
  }
}

}  // namespace

Document parse_docx(std::string_view data, const std::string& path) {
  zip_error_t err;
  zip_error_init(&err);
  zip_source_t* src = zip_source_buffer_create(data.data(), data.size(), 0, &err);
  HELIX_CHECK(src, path, ": cannot read the file as a zip archive");
  std::unique_ptr<zip_t, ZipCloser> z(zip_open_from_source(src, ZIP_RDONLY, &err));
  if (!z) {
    zip_source_free(src);
    const std::string why = zip_error_strerror(&err);
    zip_error_fini(&err);
    throw Error(cat(path, ": damaged DOCX (not a readable zip archive: ", why, ")"));
  }
  std::string xml;
  HELIX_CHECK(read_member(z.get(), "word/document.xml", xml, path), path,
              ": not a DOCX document (the zip has no word/document.xml)");
  pugi::xml_document doc;
  const pugi::xml_parse_result r = doc.load_buffer(xml.data(), xml.size());
  HELIX_CHECK(r, path, ": damaged DOCX (word/document.xml: ", r.description(), " at offset ", r.offset, ")");
  DocumentBuilder b(path, "docx");
  bool title_set = false;
  std::string core;
  if (read_member(z.get(), "docProps/core.xml", core, path)) {
    pugi::xml_document cd;
    if (cd.load_buffer(core.data(), core.size())) {
      const std::string t = cd.child("cp:coreProperties").child("dc:title").text().get();
      if (!collapse_spaces(t).empty()) {
        b.set_title(t);
        title_set = true;
      }
    }
  }
  body(doc.child("w:document").child("w:body"), b, title_set);
  return b.finish();
}

}  // namespace helix::docs
