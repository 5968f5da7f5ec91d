//! `#[derive(Module)]`: implements `strata_nn::Module` for a struct by visiting its fields.
//!
//! Every field is visited under its own name through `strata_nn::Visit`: parameters
//! (`Param`), buffers (`Buffer`), sub-modules (anything implementing `Module`), `Vec`s and
//! `Option`s of those, and plain numbers/flags (ignored). Mark a field `#[module(skip)]` to
//! leave out a field of another type. The user writes the forward pass (e.g. `impl Forward`).
//!
//! See `strata_nn` for examples.

use proc_macro::TokenStream;
use quote::quote;
use syn::{parse_macro_input, Data, DeriveInput, Fields};

#[proc_macro_derive(Module, attributes(module))]
pub fn derive_module(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
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
                    ::strata_nn::Visit::visit_as(&self.#ident, #label, visitor);
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
                    ::strata_nn::Visit::visit_as(&self.#index, #label, visitor);
                });
            }
        }
        Fields::Unit => {}
    }
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        impl #impl_generics ::strata_nn::Module for #name #ty_generics #where_clause {
            fn visit(&self, visitor: &mut dyn ::strata_nn::Visitor) {
                #(#visits)*
            }
        }
    })
}
