import numpy as np
import torch

from yolotools.synth import generate_shapes
from yolotools.train.data import YoloDataset, collate, make_loader


def _ds(tmp_path, recipe="ultralytics"):
    from yolotools.io.voc import read_voc

    s = generate_shapes(tmp_path / "d", n_train=8, n_val=1)
    ds, _ = read_voc([s.voc_root], "train")
    return YoloDataset(ds, recipe=recipe, img_size=96, seed=3)


def test_items_and_batches_have_normalised_targets(tmp_path):
    d = _ds(tmp_path)
    img, t = d[0]
    assert img.shape == (3, 96, 96) and img.dtype == torch.float32 and 0 <= img.min() and img.max() <= 1
    assert t.shape[1] == 6 and (t[:, 2:] >= 0).all() and (t[:, 2:] <= 1).all() and (t[:, 4:] > 0).all()
    x, tt = collate([d[0], d[1], d[2]])
    assert x.shape == (3, 3, 96, 96) and set(tt[:, 0].tolist()) <= {0.0, 1.0, 2.0}


def test_workers_do_not_repeat_augmentations_and_runs_are_reproducible(tmp_path):
    d = _ds(tmp_path, "darknet")
    loader = make_loader(d, batch_size=4, workers=2)
    b1 = [x for x, _ in loader]
    b2 = [x for x, _ in loader]
    assert all(torch.equal(a, b) for a, b in zip(b1, b2))  # same epoch, same samples, whatever the worker
    imgs = torch.cat(b1)
    # same source image at different indices or epochs gives different samples
    d.set_epoch(1)
    assert not torch.equal(d[0][0], imgs[0])
    flat = imgs.reshape(len(imgs), -1)
    assert len({tuple(r[:200].tolist()) for r in flat}) == len(imgs)


def test_one_loader_with_persistent_workers_serves_every_epoch(tmp_path):
    """The trainer keeps its spawned workers for the whole run: the sampler's
    (epoch, index) keys must give each epoch's own samples, exactly those of a
    fresh single-process loader for that epoch."""
    from yolotools.train.data import EpochSampler

    d = _ds(tmp_path, "darknet")
    sampler = EpochSampler(len(d))
    loader = make_loader(d, batch_size=4, workers=2, sampler=sampler)
    got = {}
    for epoch, order in ((0, [3, 1, 0, 2, 4, 5, 6, 7]), (1, [7, 6, 5, 4, 3, 2, 1, 0])):
        sampler.set(epoch, order)
        got[epoch] = torch.cat([x for x, _ in loader])
        d.set_epoch(epoch)
        want = torch.stack([d[i][0] for i in order])
        assert torch.equal(got[epoch], want), epoch
    assert not torch.equal(got[0][2], got[1][7])  # image 0 in epoch 0 vs epoch 1: another augmentation


def test_disk_cache_keeps_mosaic_samples_identical_is_reused_and_follows_changed_images(tmp_path, monkeypatch):
    import cv2
    import pytest

    from yolotools.errors import YoloToolsError
    from yolotools.io.voc import read_voc
    from yolotools.train import cache as cache_mod

    s = generate_shapes(tmp_path / "d", n_train=8, n_val=1, image_hw=(150, 200))
    ds, _ = read_voc([s.voc_root], "train")
    folder = tmp_path / "cache"
    plain = YoloDataset(ds, recipe="ultralytics", img_size=96, seed=3, buffer_mb=0)  # every image decoded each time
    buffered = YoloDataset(ds, recipe="ultralytics", img_size=96, seed=3)  # --cache off: this process's buffer
    cached = YoloDataset(ds, recipe="ultralytics", img_size=96, seed=3, cache="disk", cache_dir=folder)
    files = sorted(folder.rglob("*.npy"))
    assert len(files) == 8 and all(np.load(f).shape == (72, 96, 3) for f in files)  # long side 96: 150x200 -> 72x96
    for epoch in (0, 5):  # the mosaic resizes each image to the same size first: pixel for pixel the same samples
        for i in range(8):
            (a, ta), (b, tb), (c, tc) = plain[(epoch, i)], cached[(epoch, i)], buffered[(epoch, i)]
            assert torch.equal(a, b) and torch.equal(ta, tb) and torch.equal(a, c) and torch.equal(ta, tc)
    assert len(buffered._buffer) == 8 and len(plain._buffer) == 0
    small = YoloDataset(ds, recipe="ultralytics", img_size=96, seed=3, buffer_mb=1)
    small._buffer_left = 3 * 72 * 96 * 3  # room for three images: the least recently used go
    for i in range(8):
        small[(0, i)]
    assert 0 < len(small._buffer) <= 3 and small._buffer_left >= 0
    # a later run reuses the files; an image that changed is decoded again, under a new name
    stamps = {f: f.stat().st_mtime_ns for f in files}
    YoloDataset(ds, recipe="ultralytics", img_size=96, seed=3, cache="disk", cache_dir=folder)
    assert {f: f.stat().st_mtime_ns for f in sorted(folder.rglob("*.npy"))} == stamps
    rec = ds.records[0]
    img = cv2.imread(str(rec.path))
    cv2.imwrite(str(rec.path), 255 - img)
    again = YoloDataset(ds, recipe="ultralytics", img_size=96, seed=3, cache="disk", cache_dir=folder)
    assert len(list(folder.rglob("*.npy"))) == 9
    fresh = cv2.cvtColor(cv2.resize(255 - img, (96, 72), interpolation=cv2.INTER_LINEAR), cv2.COLOR_BGR2RGB)
    assert np.array_equal(again._load(0).image, fresh)
    # a disk too small for what is missing: a clear error before anything is written
    monkeypatch.setattr(cache_mod.shutil, "disk_usage", lambda p: type("U", (), {"free": 1 << 20})())
    with pytest.raises(YoloToolsError, match=r"--cache disk: 8 images need .* GiB free"):
        YoloDataset(ds, recipe="ultralytics", img_size=128, seed=3, cache="disk", cache_dir=folder)


def _cache_maps(folder: str) -> dict[int, str]:
    """``inode -> permissions`` of this process's mappings of files under ``folder`` (/proc/self/maps)."""
    out = {}
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and parts[5].startswith(folder):
                out[int(parts[4])] = parts[1]
    return out


def _rank(args):
    """One 'rank': maps every cached image, reads all of it, reports its mappings while both hold them."""
    voc_root, folder, barrier, q = args
    from yolotools.io.voc import read_voc

    ds, _ = read_voc([voc_root], "train")
    d = YoloDataset(ds, recipe="ultralytics", img_size=96, seed=3, cache="ram", cache_dir=folder)
    held = [d._disk.load(i) for i in range(len(d.records))]
    total = sum(int(np.asarray(a).sum() % 7) for a in held)  # read every page
    barrier.wait()
    q.put((_cache_maps(folder), total))
    barrier.wait()


def test_ram_cache_is_one_copy_for_two_processes_and_goes_with_the_run(tmp_path):
    import multiprocessing as mp
    import os

    import pytest

    if not os.path.exists("/proc/self/smaps") or not os.path.isdir("/dev/shm"):
        pytest.skip("needs Linux /proc and /dev/shm")
    from yolotools.io.voc import read_voc
    from yolotools.train.cache import ram_cache_dir

    assert str(ram_cache_dir()).startswith("/dev/shm/")
    s = generate_shapes(tmp_path / "d", n_train=8, n_val=1, image_hw=(600, 800))
    folder = f"/dev/shm/yolotools-test-{os.getpid()}"
    ds, _ = read_voc([s.voc_root], "train")
    try:
        first = YoloDataset(ds, recipe="ultralytics", img_size=96, seed=3, cache="ram", cache_dir=folder)  # fills the cache
        assert torch.equal(first[(0, 1)][0], YoloDataset(ds, recipe="ultralytics", img_size=96, seed=3)[(0, 1)][0])
        ctx = mp.get_context("spawn")
        barrier, q = ctx.Barrier(2), ctx.Queue()
        procs = [ctx.Process(target=_rank, args=((s.voc_root, folder, barrier, q),)) for _ in range(2)]
        for p in procs:
            p.start()
        got = [q.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(timeout=120)
        from pathlib import Path

        inodes = {f.stat().st_ino for f in Path(folder).rglob("*.npy")}
        for maps, total in got:
            # each process maps the very files the first one wrote (same inodes, MAP_SHARED: one set of pages in memory),
            # it holds no copy of its own, and it read the same pixels
            assert set(maps) == inodes and all(perm[3] == "s" for perm in maps.values()), maps
        assert got[0][1] == got[1][1]
        from pathlib import Path

        assert len(list(Path(folder).rglob("*.npy"))) == 8  # one file per image for all three users
        first._disk.remove()  # what the trainer does when a --cache ram run ends
        assert not Path(folder).exists()  # files and the folders they emptied
    finally:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


def test_large_jpegs_are_decoded_at_a_reduced_scale_to_the_same_picture(tmp_path):
    """The cache and the mosaic buffer decode a JPEG several times larger than the training
    size at 1/2-1/8 scale (in the decoder); the result is the cached size and the same picture
    as decoding it whole and resizing; a PNG is decoded whole; a broken file names itself."""
    import cv2
    import pytest

    from yolotools.errors import YoloToolsError
    from yolotools.synth import render_shapes_image
    from yolotools.train.cache import cached_hw, decode_resized

    img, *_ = render_shapes_image(np.random.default_rng(0), (600, 800), max_objects=6, min_size=60)
    bgr = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(tmp_path / "a.jpg"), bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
    cv2.imwrite(str(tmp_path / "a.png"), bgr)
    for size, factor in ((96, 8), (150, 4), (300, 2), (416, 1)):
        want = cached_hw((600, 800), size)
        full = cv2.resize(cv2.cvtColor(cv2.imread(str(tmp_path / "a.jpg")), cv2.COLOR_BGR2RGB), want[::-1], interpolation=cv2.INTER_LINEAR)
        got = decode_resized(str(tmp_path / "a.jpg"), (600, 800), size)
        assert got.shape == (*want, 3)
        diff = np.abs(got.astype(int) - full.astype(int)).mean()
        assert diff < 4.0, (size, factor, diff)  # the same picture (a decoder's scaling is not bilinear's, bit for bit)
        if factor == 1:
            assert np.array_equal(got, full)
        png = decode_resized(str(tmp_path / "a.png"), (600, 800), size)
        ref = cv2.resize(cv2.cvtColor(cv2.imread(str(tmp_path / "a.png")), cv2.COLOR_BGR2RGB), want[::-1], interpolation=cv2.INTER_LINEAR)
        assert np.array_equal(png, ref)
    assert decode_resized(str(tmp_path / "a.jpg"), (601, 800), 96) is None  # not the labels' size: the caller decodes it whole
    (tmp_path / "bad.jpg").write_bytes((tmp_path / "a.jpg").read_bytes()[:5000])
    with pytest.raises(YoloToolsError, match="bad.jpg"):
        decode_resized(str(tmp_path / "bad.jpg"), (600, 800), 96)


def test_a_worker_gets_the_dataset_without_this_process_buffer(tmp_path):
    import pickle

    from yolotools.io.voc import read_voc

    s = generate_shapes(tmp_path / "d", n_train=4, n_val=1, image_hw=(64, 80))
    ds, _ = read_voc([s.voc_root], "train")
    d = YoloDataset(ds, recipe="ultralytics", img_size=64, seed=1)
    for i in range(4):
        d[(0, i)]
    assert len(d._buffer) == 4
    w = pickle.loads(pickle.dumps(d))  # what a spawned DataLoader worker receives
    assert len(w._buffer) == 0 and w._buffer_left == 256 << 20 and len(d._buffer) == 4
    a, ta = w[(3, 1)]
    b, tb = d[(3, 1)]
    assert torch.equal(a, b) and torch.equal(ta, tb)
