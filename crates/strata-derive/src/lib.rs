//! `#[derive(Module)]`: implements `strata_nn::Module` for a struct by visiting its fields.
//!
//! Every field is visited under its own name through `strata_nn::Visit`: parameters
//! (`Param`), buffers (`Buffer`), sub-modules (anything implementing `Module`), `Vec`s and
//! `Option`s of those, and plain numbers/flags (ignored). Mark a field `#[module(skip)]` to
//! leave out a field of another type. The user writes the forward pass (e.g. `impl Forward`).
//!
//! The expansion names the crate that holds `Module` the way the deriving crate sees it
//! (read from its `Cargo.toml`): `::strata::nn` when it depends on the `strata` facade,
//! `::strata_nn` when it depends on `strata-nn` only (or is `strata-nn` itself, which declares
//! `extern crate self as strata_nn;`). So `strata` alone is enough for users.
//!
//! See `strata_nn` for examples.

use proc_macro::TokenStream;
use proc_macro_crate::{crate_name, FoundCrate};
use quote::{format_ident, quote};
use syn::{parse_macro_input, Data, DeriveInput, Fields};

#[proc_macro_derive(Module, attributes(module))]
pub fn derive_module(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// The path of `strata_nn` as the crate being compiled sees it.
///
/// The facade comes first: its own tests and examples see `strata` as `Itself` and reach it as
/// `::strata` (the facade declares `extern crate self as strata;`), which is what users do.
/// Anything else falls back to `::strata_nn`, which also serves `strata-nn` itself, its tests
/// and examples (`extern crate self as strata_nn;` in its root).
fn nn_path() -> proc_macro2::TokenStream {
    match crate_name("strata") {
        Ok(FoundCrate::Itself) => return quote!(::strata::nn),
        Ok(FoundCrate::Name(name)) => {
            let ident = format_ident!("{}", name);
            return quote!(::#ident::nn);
        }
        Err(_) => {}
    }
    match crate_name("strata-nn") {
        Ok(FoundCrate::Name(name)) => {
            let ident = format_ident!("{}", name);
            quote!(::#ident)
        }
        Ok(FoundCrate::Itself) | Err(_) => quote!(::strata_nn),
    }
}

fn is_skipped(field: &syn::Field) -> syn::Result<bool> {
    let mut skip = false;
    for attr in &field.attrs {
        if attr.path().is_ident("module") {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("skip") {
                    skip = true;
                    Ok(())
                } else {
                    Err(meta.error("expected `#[module(skip)]`"))
                }
            })?;
        }
    }
    Ok(skip)
}

fn expand(input: &DeriveInput) -> syn::Result<proc_macro2::TokenStream> {
    let name = &input.ident;
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "#[derive(Module)] works on structs; implement `Module` by hand for enums",
        ));
    };
    let nn = nn_path();
    let mut visits = Vec::new();
    match &data.fields {
        Fields::Named(fields) => {
            for f in &fields.named {
                if is_skipped(f)? {
                    continue;
                }
                let ident = f.ident.as_ref().expect("named field");
                let label = ident.to_string();
                visits.push(quote! {
                    #nn::Visit::visit_as(&self.#ident, #label, visitor);
                });
            }
        }
        Fields::Unnamed(fields) => {
            for (i, f) in fields.unnamed.iter().enumerate() {
                if is_skipped(f)? {
                    continue;
                }
                let index = syn::Index::from(i);
                let label = i.to_string();
                visits.push(quote! {
                    #nn::Visit::visit_as(&self.#index, #label, visitor);
                });
            }
        }
        Fields::Unit => {}
    }
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        impl #impl_generics #nn::Module for #name #ty_generics #where_clause {
            fn visit(&self, visitor: &mut dyn #nn::Visitor) {
                #(#visits)*
            }
        }
    })
}
