"""`helix kb add NAME FOLDER` again after files were deleted from the folder removes their
documents (chunks, BM25 rows and vectors), and only those: documents added from elsewhere, or from a
sibling folder whose name starts the same, stay."""
import json
import pathlib

from conftest import run_helix


def kb(helix_bin, kb_dir, *args):
    return run_helix(helix_bin, "kb", "--kb-dir", kb_dir, *args)


def names(helix_bin, kb_dir):
    return sorted(pathlib.Path(d["path"]).name for d in json.loads(kb(helix_bin, kb_dir, "docs", "t", "--json").stdout))


def test_readding_a_folder_prunes_deleted_files(helix_bin, tmp_path):
    docs, sibling = tmp_path / "docs", tmp_path / "docs2"
    (docs / "sub").mkdir(parents=True)
    sibling.mkdir()
    (docs / "keep.txt").write_text("Lighthouses guide ships along the rocky northern coast at night.\n")
    (docs / "sub" / "gone.txt").write_text("Zeppelins float because hydrogen is lighter than air.\n")
    (sibling / "other.txt").write_text("Beekeepers smoke the hive before opening it.\n")
    lone = tmp_path / "lone.txt"
    lone.write_text("Glaciers carve valleys over thousands of years.\n")
    kb_dir = tmp_path / "kbs"
    kb(helix_bin, kb_dir, "create", "t")
    kb(helix_bin, kb_dir, "add", "t", docs, sibling, lone)
    assert names(helix_bin, kb_dir) == ["gone.txt", "keep.txt", "lone.txt", "other.txt"]

    (docs / "sub" / "gone.txt").unlink()
    (sibling / "other.txt").unlink()  # deleted too, but its folder is not the one added again
    lone.unlink()
    log = kb(helix_bin, kb_dir, "add", "t", docs).stderr.decode()
    assert "removed " + str(docs / "sub" / "gone.txt") in log, log
    assert "1 unchanged, 0 failed, 1 removed" in log, log
    assert names(helix_bin, kb_dir) == ["keep.txt", "lone.txt", "other.txt"]
    for mode in ["bm25", "vector", "hybrid"]:  # BM25 finds nothing; the vectors find the nearest of the rest
        hits = json.loads(kb(helix_bin, kb_dir, "query", "t", "zeppelins hydrogen lighter than air", "--json",
                             "--mode", mode).stdout)
        assert (hits or mode == "bm25") and all(pathlib.Path(h["doc"]).name != "gone.txt" for h in hits), (mode, hits)

    log = kb(helix_bin, kb_dir, "add", "t", docs).stderr.decode()  # nothing more to prune
    assert "removed" not in log, log
