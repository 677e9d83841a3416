from ailawyer.cli import app

app(prog_name="ailawyer")
