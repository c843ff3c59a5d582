//! The uniffi bindings generator, built from this workspace so that its version always matches
//! the `uniffi` the library links (see `bindings-uniffi/test.sh`).

fn main() {
    uniffi::uniffi_bindgen_main()
}
