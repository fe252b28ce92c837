#!/usr/bin/python3
"""Self-test of check_ours.py (and of the generator's legacy key renaming) on the committed
fixtures. Run: /usr/bin/python3 generator/test_check_ours.py  (from apps/conformance or anywhere).

* every fixture compared with itself passes (byte identity included);
* torch re-saving a loaded fixture (in either format) passes the deep comparison; re-saving a
  zip fixture gives identical bytes, and so does a legacy fixture after generate.normalize_legacy
  (wherever the manifest says a byte-identical re-save is expected);
* deliberately altered copies fail, each on the check it targets: a different stride, sharing
  broken by a copy, a reordered dict, a dropped `_metadata`, -0.0 turned into 0.0, a changed NaN
  payload, a broken identity, Parameter turned into Tensor, requires_grad flipped, another
  module class, a changed big int;
* files naming globals outside the allowlist are refused before anything is unpickled;
* the command line: exit status and the closing `N passed, N failed` line, single and batch.
"""
import collections
import io
import json
import os
import pickle
import subprocess
import sys
import tempfile
import unittest
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
if os.environ.get('PYTHONHASHSEED') != '0':  # sets of strings must pickle in the generator's order
    os.environ['PYTHONHASHSEED'] = '0'
    os.execv(sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:])

import torch  # noqa: E402

import check_ours  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(HERE), 'fixtures')
with open(os.path.join(FIXTURES, 'MANIFEST.json')) as _f:
    MANIFEST = json.load(_f)
FILES = [(c['name'], fmt, os.path.join(FIXTURES, f['file']), f['byte_identical_resave'])
         for c in MANIFEST['cases'] for fmt, f in c['formats'].items()]
FMT_OF = {os.path.basename(p): fmt for _, fmt, p, _ in FILES}


def quiet():
    return check_ours.Report(quiet=True, out=io.StringIO())


def fixture(name, fmt='zip'):
    return os.path.join(FIXTURES, f'{name}.{fmt}.pt')


class SelfComparison(unittest.TestCase):
    def test_manifest_lists_all_files(self):
        self.assertGreaterEqual(len(MANIFEST['cases']), 40)
        for _, _, path, _ in FILES:
            self.assertTrue(os.path.isfile(path), path)
            self.assertTrue(os.path.isfile(path + '.json'), path + '.json')

    def test_every_fixture_equals_itself(self):
        for name, fmt, path, _ in FILES:
            with self.subTest(fixture=os.path.basename(path)):
                rep = check_ours.compare_files(path, path, byte_identical=True, rep=quiet())
                self.assertEqual(rep.failed, 0, rep.failures[:5])
                self.assertGreater(rep.passed, 3)

    def test_zip_and_legacy_load_to_the_same_object(self):
        for c in MANIFEST['cases']:
            if set(c['formats']) != {'zip', 'legacy'}:
                continue  # a zip-only case (memory_format: protocol 4)
            with self.subTest(case=c['name']):
                rep = quiet()
                check_ours.compare_objects(check_ours.load_trusted(fixture(c['name'], 'zip')),
                                           check_ours.load_trusted(fixture(c['name'], 'legacy')), rep)
                self.assertEqual(rep.failed, 0, rep.failures[:5])


def pickle_protocol(path):
    """torch.save's pickle_protocol of a zip fixture (its data.pkl's PROTO opcode; 2 for legacy files)."""
    import zipfile
    if not zipfile.is_zipfile(path):
        return 2
    with zipfile.ZipFile(path) as z:
        head = z.read(next(n for n in z.namelist() if n.endswith('/data.pkl')))[:2]
    return head[1] if head[:1] == b'\x80' else 2


class TorchResave(unittest.TestCase):
    """torch itself writing a loaded fixture again: the checker must accept it."""

    @classmethod
    def setUpClass(cls):
        import generate
        cls.generate = generate
        cls.describe = generate.load_describe()
        cls.cwd = os.getcwd()
        generate.prepare_environment()  # needs PYTHONHASHSEED=0 (the re-exec above)

    @classmethod
    def tearDownClass(cls):
        os.chdir(cls.cwd)

    def test_resave_same_format_is_identical_and_equal(self):
        with tempfile.TemporaryDirectory() as tmp:
            for name, fmt, path, byte_identical in FILES:
                with self.subTest(fixture=os.path.basename(path)):
                    obj = check_ours.load_trusted(path)
                    out = os.path.join(tmp, os.path.basename(path))
                    if fmt == 'zip':
                        torch.save(obj, out, pickle_protocol=pickle_protocol(path))
                    else:
                        buf = io.BytesIO()
                        torch.save(obj, buf, _use_new_zipfile_serialization=False)
                        with open(out, 'wb') as f:
                            f.write(self.generate.normalize_legacy(buf.getvalue(), self.describe))
                    rep = check_ours.compare_files(path, out, byte_identical=byte_identical, rep=quiet())
                    self.assertEqual(rep.failed, 0, rep.failures[:5])

    def test_resave_in_the_other_format_is_equal(self):
        with tempfile.TemporaryDirectory() as tmp:
            for name, fmt, path, _ in FILES:
                with self.subTest(fixture=os.path.basename(path)):
                    obj = check_ours.load_trusted(path)
                    out = os.path.join(tmp, 'other.pt')
                    torch.save(obj, out, _use_new_zipfile_serialization=(fmt == 'legacy'),
                               pickle_protocol=pickle_protocol(path))
                    rep = check_ours.compare_files(path, out, rep=quiet())
                    self.assertEqual(rep.failed, 0, rep.failures[:5])


class Mutations(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def mutated(self, name, fmt, mutate):
        """Load a fixture, mutate it, save it in the same format; return the report of comparing."""
        orig = fixture(name, fmt)
        obj = check_ours.load_trusted(orig)
        new = mutate(obj)
        obj = obj if new is None else new
        out = os.path.join(self.tmp.name, os.path.basename(orig))
        torch.save(obj, out, _use_new_zipfile_serialization=(fmt == 'zip'))
        return check_ours.compare_files(orig, out, byte_identical=True, rep=quiet())

    def assertFailsOn(self, rep, *needles):
        self.assertGreater(rep.failed, 0, 'the altered copy passed')
        text = '\n'.join(rep.failures)
        for n in needles:
            self.assertIn(n, text)
        self.assertIn('byte-identical', text)

    def test_different_stride(self):
        def m(t):
            return torch.zeros(4).as_strided((4, 4), (1, 0))
        for fmt in ('zip', 'legacy'):
            self.assertFailsOn(self.mutated('seed_expand', fmt, m), 'stride [0, 1] != [1, 0]')

    def test_sharing_broken_by_a_copy(self):
        def m(d):
            other = d['base'].clone()  # same bytes, same offset and stride, another storage
            d['view'] = other[2:5]
        for fmt in ('zip', 'legacy'):
            self.assertFailsOn(self.mutated('seed_clone_breaks_sharing', fmt, m), 'storage sharing')

    def test_sharing_and_identity_added(self):
        t = torch.arange(4.0)
        orig = {'a': t, 'b': t.clone(), 'l1': [1], 'l2': [1]}
        u = torch.arange(4.0)
        ours = {'a': u, 'b': u[:], 'l1': [1], 'l2': None}
        ours['l2'] = ours['l1']
        rep = quiet()
        check_ours.compare_objects(orig, ours, rep)
        text = '\n'.join(rep.failures)
        self.assertEqual(rep.failed, 3, text)  # b's sharing, l2's identity, the dict
        self.assertIn("$['b'] storage sharing: ours shares a storage that is separate in the original", text)
        self.assertIn("$['l2'] identity: ours reuses an object that is distinct in the original", text)

    def test_reordered_dict(self):
        def m(d):
            return collections.OrderedDict(reversed(list(d.items())))
        for fmt in ('zip', 'legacy'):
            self.assertFailsOn(self.mutated('parameters', fmt, m), 'another order')

    def test_state_dict_order_and_metadata(self):
        def reorder(sd):
            new = collections.OrderedDict(reversed(list(sd.items())))
            new._metadata = sd._metadata
            return new
        self.assertFailsOn(self.mutated('nn_mlp_state_dict', 'zip', reorder), 'another order')

        def drop_meta(sd):
            del sd._metadata
        self.assertFailsOn(self.mutated('nn_mlp_state_dict', 'legacy', drop_meta), '.__dict__')

        def change_meta(sd):
            sd._metadata['0']['version'] = 2
        self.assertFailsOn(self.mutated('nn_cnn_bn_state_dict', 'zip', change_meta), "['version'] int")

    def test_negative_zero_and_big_int(self):
        def m(d):
            d['neg_zero'] = 0.0
            d['int_2_64'] = 2 ** 64 + 1
        self.assertFailsOn(self.mutated('python_values', 'zip', m), "['neg_zero'] float", "['int_2_64'] int")

    def test_nan_payload(self):
        def m(t):
            t.view(torch.int32)[7] = 0x7fc00002  # was 0x7fc00001
        self.assertFailsOn(self.mutated('dtype_float32', 'legacy', m), 'storage bytes differ (first at byte 28)')

    def test_broken_identity(self):
        def m(d):
            d['b'] = list(d['b'])  # equal list, no longer the same object as d['a']
        for fmt in ('zip', 'legacy'):
            self.assertFailsOn(self.mutated('nested_shared', fmt, m), "$['b'] identity")

    def test_parameter_becomes_tensor_and_requires_grad(self):
        def m(d):
            d['param'] = d['param'].detach().requires_grad_()
            d['tensor_grad'].requires_grad_(False)
        self.assertFailsOn(self.mutated('parameters', 'zip', m),
                           'class torch.nn.parameter.Parameter != torch.Tensor', 'requires_grad True != False')

    def test_module_class(self):
        def m(model):
            model[1] = torch.nn.Tanh()
        self.assertFailsOn(self.mutated('nn_mlp_model', 'zip', m), 'ReLU != torch.nn.modules.activation.Tanh')

    def test_module_tied_weights_untied(self):
        def m(model):
            model.out.weight = torch.nn.Parameter(model.embed.weight.detach().clone())
        self.assertFailsOn(self.mutated('nn_tied_embedding_model', 'legacy', m), 'storage sharing')

    def test_quantization_scale(self):
        def m(d):
            d['qint8'] = torch.quantize_per_tensor(d['qint8'].dequantize(), 0.05000001, 3, torch.qint8)
        self.assertFailsOn(self.mutated('quantized_per_tensor', 'zip', m), 'q_scale')


class Allowlist(unittest.TestCase):
    EVIL = b'\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03.'

    def test_zip_with_a_foreign_global_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            p = os.path.join(tmp, 'evil.pt')
            with zipfile.ZipFile(p, 'w') as z:
                z.writestr('evil/data.pkl', self.EVIL)
                z.writestr('evil/version', '3\n')
            with self.assertRaisesRegex(check_ours.Refused, 'os.system'):
                check_ours.check_allowlist(p)
            with self.assertRaisesRegex(check_ours.Refused, 'os.system'):
                check_ours.load_restricted(p)  # the unpickler refuses it as well
            r = subprocess.run([sys.executable, os.path.join(HERE, 'check_ours.py'), fixture('tensor_0d'), p],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
            self.assertIn('os.system', r.stdout)

    def test_legacy_with_a_foreign_global_is_refused(self):
        data = (pickle.dumps(check_ours.LEGACY_MAGIC, protocol=2) + pickle.dumps(1001, protocol=2)
                + pickle.dumps({'protocol_version': 1001}, protocol=2) + self.EVIL + pickle.dumps([], protocol=2))
        with tempfile.TemporaryDirectory() as tmp:
            p = os.path.join(tmp, 'evil.pt')
            with open(p, 'wb') as f:
                f.write(data)
            with self.assertRaisesRegex(check_ours.Refused, 'os.system'):
                check_ours.check_allowlist(p)

    def test_stack_global_and_non_torch_files(self):
        sg = b'\x80\x04\x95\x15\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94\x8c\x06system\x94\x93\x94.'
        with tempfile.TemporaryDirectory() as tmp:
            p = os.path.join(tmp, 'sg.pt')
            with zipfile.ZipFile(p, 'w') as z:
                z.writestr('sg/data.pkl', sg)
            with self.assertRaisesRegex(check_ours.Refused, 'os.system'):
                check_ours.check_allowlist(p)
            q = os.path.join(tmp, 'plain.pt')
            with open(q, 'wb') as f:
                f.write(pickle.dumps({'a': 1}, protocol=2))
            with self.assertRaisesRegex(check_ours.Refused, 'magic'):
                check_ours.check_allowlist(q)

    def test_all_fixture_globals_are_allowed(self):
        for _, _, path, _ in FILES:
            check_ours.check_allowlist(path)


class CommandLine(unittest.TestCase):
    def run_cli(self, *args):
        return subprocess.run([sys.executable, os.path.join(HERE, 'check_ours.py'), *args],
                              capture_output=True, text=True)

    def test_single_pass_and_fail(self):
        p = fixture('views_shared_base', 'legacy')
        r = self.run_cli(p, p, '--byte-identical')
        self.assertEqual(r.returncode, 0, r.stdout[-2000:] + r.stderr)
        lines = r.stdout.strip().splitlines()
        self.assertRegex(lines[-1], r'^\d+ passed, 0 failed$')
        self.assertTrue(all(line.startswith('PASS') for line in lines[:-1]))
        r = self.run_cli(fixture('views_shared_base', 'legacy'), fixture('views_shared_base', 'zip'), '--byte-identical')
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stdout.strip().splitlines()[-1], r'^\d+ passed, 1 failed$')

    def test_batch(self):
        with tempfile.TemporaryDirectory() as tmp:
            pairs = [{'original': fixture('seed_expand'), 'ours': fixture('seed_expand'), 'byte_identical': True},
                     {'original': fixture('dtype_int8'), 'ours': fixture('dtype_uint8'), 'name': 'wrong dtype'}]
            bp = os.path.join(tmp, 'pairs.json')
            with open(bp, 'w') as f:
                json.dump(pairs, f)
            r = self.run_cli('--batch', bp, '-q')
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn('wrong dtype:$: dtype torch.int8 != torch.uint8', r.stdout)
            self.assertNotIn('PASS', r.stdout)
            self.assertRegex(r.stdout.strip().splitlines()[-1], r'^\d+ passed, 1 failed$')


if __name__ == '__main__':
    unittest.main()
