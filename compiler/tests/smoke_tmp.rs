#[test]
fn smoke() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/cuba_sketch.nml")).unwrap();
    let (file, diags) = nmlc_compiler::syntax::parse_file(nmlc_compiler::source::FileId(0), &text);
    println!("{:#?}", diags);
    let s = format!("{:#?}", file);
    println!("{}", &s[..s.len().min(3000)]);
    if let nmlc_compiler::syntax::ast::Item::Network(n) = &file.items[3] { println!("{:#?}", n.items.last()); }
    assert!(diags.is_empty());
}
