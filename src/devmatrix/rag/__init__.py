"""RAG: embeddings with a persistent cache, the Chroma server store, retrieval (similarity, MMR).

Imports are light: torch, sentence-transformers and chromadb load only when a
model or a store is really created.
"""

from devmatrix.rag.embeddings import EmbeddingModel, create_embedding_model
from devmatrix.rag.retriever import RetrievalStrategy, Retriever, create_retriever, format_examples_prompt
from devmatrix.rag.store import VectorStore, create_vector_store

__all__ = ["EmbeddingModel", "RetrievalStrategy", "Retriever", "VectorStore", "create_embedding_model",
           "create_retriever", "create_vector_store", "format_examples_prompt"]
