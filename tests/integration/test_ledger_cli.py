"""`connector ledger preview`: what would be posted, refunds included, touching nothing."""
import json

from click.testing import CliRunner

from connector.cli import main


def _write(tmp_path, name, document):
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return str(path)


def test_ledger_preview_refunds_shows_each_reversal_as_recorded(tmp_path, fixture_payload):
    order = _write(tmp_path, "order.json", fixture_payload("order-727"))
    refunds = _write(tmp_path, "refunds.json", [
        {"id": 802, "date_created_gmt": "2017-03-26T18:00:00", "amount": "19.35", "reason": "",
         "refunded_payment": False, "line_items": [], "shipping_lines": [], "fee_lines": []},
        {"id": 801, "date_created_gmt": "2017-03-25T18:00:00", "amount": "10.00", "reason": "", "refunded_payment": True,
         "line_items": [], "fee_lines": [],
         "shipping_lines": [{"id": 901, "total": "-10.00", "taxes": [],
                             "meta_data": [{"key": "_refunded_item_id", "value": "317"}]}]}])
    result = CliRunner().invoke(main, ["ledger", "preview", order, "--refunds", refunds, "--format", "json"])
    assert result.exit_code == 0, result.output
    entries = json.loads(result.output)["entries"]
    assert [(e["batch_number"], e["kind"], e["gl_date"]) for e in entries] == [
        ("WC-727", "sale", "2017-03-22"), ("WC-727-R801", "refund", "2017-03-25"),
        ("WC-727-R802", "refund", "2017-03-26")]
    assert [(l["account"], l["amount"]) for l in entries[1]["lines"]] == [("M30.4050", "10.00"),
                                                                           ("M30.1110.BANK", "-10.00")]
    # The last refund returns the rest of the money: everything left of the sale, owed by hand.
    assert [(l["account"], l["amount"]) for l in entries[2]["lines"]] == [
        ("M30.4010", "18.00"), ("M30.2310", "1.35"), ("M30.2460", "-19.35")]


def test_ledger_preview_refunds_not_a_list_is_one_line_and_exit_2(tmp_path, fixture_payload):
    order = _write(tmp_path, "order.json", fixture_payload("order-727"))
    refunds = _write(tmp_path, "refunds.json", {"id": 801})
    result = CliRunner().invoke(main, ["ledger", "preview", order, "--refunds", refunds])
    assert result.exit_code == 2 and "--refunds must be" in result.output and len(result.output.splitlines()) == 1
